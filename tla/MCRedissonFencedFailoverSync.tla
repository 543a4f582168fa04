-------------------- MODULE MCRedissonFencedFailoverSync --------------------
EXTENDS Redlock
============================================================
