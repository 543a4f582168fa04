-------------------- MODULE MCFenceCheckThenWriteAsync --------------------
EXTENDS Redlock
============================================================
