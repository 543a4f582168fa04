-------------------- MODULE MCEtcdLeaseRevisionAsync --------------------
EXTENDS Redlock
============================================================
