-------------------- MODULE MCFailoverAsyncReplicaAsync --------------------
EXTENDS Redlock
============================================================
