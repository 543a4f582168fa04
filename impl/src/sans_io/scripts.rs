//! The Lua that the client runs on every lock server, as text: what `SCRIPT LIST` would show an
//! operator, and what other tooling (a benchmark's floor, an audit) can run unchanged. Keys and
//! values always travel as `KEYS` and `ARGV`, never inside the text.

/// Acquire with a fencing counter (single server): `SET KEYS[1] ARGV[1] NX PX ARGV[2]` and, if
/// the key was free, increment the counter `KEYS[2]` in the same atomic step and return it as the
/// token; `false` (nil) if the key was taken.
pub const ACQUIRE_FENCED: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then \
         return redis.call('INCR', KEYS[2]) \
     end \
     return false";

/// Compare-and-pexpire: renew `KEYS[1]`'s TTL to `ARGV[2]` ms only while it still holds our
/// value `ARGV[1]`; 1 if renewed, 0 otherwise.
pub const EXTEND: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
         return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
     end \
     return 0";

/// Compare-and-delete: delete `KEYS[1]` only while it still holds our value `ARGV[1]`; 1 if
/// deleted, 0 otherwise.
pub const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
         return redis.call('DEL', KEYS[1]) \
     end \
     return 0";
