-------------------- MODULE MCFailoverAsyncReplicaSync --------------------
EXTENDS Redlock
============================================================
