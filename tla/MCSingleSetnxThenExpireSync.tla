-------------------- MODULE MCSingleSetnxThenExpireSync --------------------
EXTENDS Redlock
============================================================
