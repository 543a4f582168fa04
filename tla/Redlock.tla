------------------------------- MODULE Redlock -------------------------------
(***************************************************************************)
(* The Redlock debate (Kleppmann vs antirez) as a TLA+ specification: the  *)
(* TLA+ twin of the Stateright model in ../model (see README.md).          *)
(*                                                                         *)
(* Actors. NumServers lock servers with Redis semantics (one key that      *)
(* expires by the server's own clock, a fencing counter, asynchronous      *)
(* replicas that WAIT can count and a failover promotes, Chubby's          *)
(* lock-delay and CheckSequencer); NumClients clients running the Redlock  *)
(* client core of impl/src/sans_io/protocol.rs (quorum NumServers \div 2 + *)
(* 1, validity = TTL - elapsed - drift, release on every node after a      *)
(* failed attempt, a per-node timeout, retries); an optional resource, a   *)
(* counter that holders increment by read-modify-write: unfenced, fenced   *)
(* atomically, fenced check-then-write, CheckSequencer, or antirez's       *)
(* unique-token check-and-set. With Service = "etcd" the one server is an  *)
(* etcd-style store instead (leases that expire by its clock, the lock key *)
(* created with a lease only if absent, a revision that every write        *)
(* raises, watches on the key's deletion) and the clients run the          *)
(* lease-lock core of impl/src/sans_io/lease_lock.rs; the key's create     *)
(* revision may serve as the fencing token.                                *)
(*                                                                         *)
(* Time. Real time advances by Tick. The state holds no absolute time,     *)
(* only relative countdowns (docs/design.md, Time and the judge).       *)
(* What a server measures on its own clock (a key's TTL, a lock-delay, a   *)
(* delayed restart) is a Window: the earliest and the latest number of     *)
(* real ticks from now at which it may end. Clock drift (Skew ticks per    *)
(* measured interval) is thus a choice made only when it matters, and a    *)
(* clock running at any rate is [earliest |-> 0, latest |-> NoVal]. A      *)
(* client's clock counts only while the client waits on it and is          *)
(* forgotten once the client is done. Tick is enabled only while some      *)
(* countdown runs or a client is ready for a quiet step, so the state      *)
(* space is finite without a horizon.                                      *)
(*                                                                         *)
(* Safety is judged as in the Rust model: every step produces events (the  *)
(* vocabulary of impl/src/sans_io/event.rs) and the judge, a fold over     *)
(* events (impl/src/sans_io/judge.rs), is part of the state; each          *)
(* invariant reads its verdict: MutualExclusion, OwnerOnlyRelease,         *)
(* OrderedFencedWrites, NoLostUpdate, EventuallyAcquirable.                *)
(*                                                                         *)
(* The spec carries no model bounds: every number comes from an MC*.cfg.   *)
(* Names: the Rust actions Tick, Pause, ClockJump, Crash, Restart,         *)
(* Failover and ClientCrash keep their names; a delivery is named after    *)
(* the message delivered (Acquire, AcquireReply, Release, Extend, ...);    *)
(* an actor's own step after its Rust timer (Deadline, Retry, Expire,      *)
(* Replicate, Apply, ...). Where Rust uses one name for a message and a    *)
(* timer, the timer's action is renamed: Timer::Write is SendWrite,        *)
(* Timer::Extend is WatchdogExtend, Timer::LockDelay is LockDelayEnds, and *)
(* the EXPIRE command (Msg::Expire) is ExpireCommand while Expire is the   *)
(* key's expiry (Timer::Expire), and Timer::Release is SendRelease. The    *)
(* etcd-style store's steps are named likewise: GrantLease,               *)
(* CreateIfAbsent, WatchDeletion, KeepAlive, RevokeLease and DeleteKey are *)
(* its deliveries, LeaseGranted, Created, Taken, TxnFailed, Freed and      *)
(* KeptAlive its clients', LeaseExpire its timer (Timer::LeaseExpire); a   *)
(* client's keep-alive is its watchdog's WatchdogExtend. A client's first  *)
(* step (Timer::Start) and its return from a pause are taken with a Tick,  *)
(* as in the Rust model.                                                   *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS
    None,           \* a model value: an optional parameter that is absent
    Timing,         \* "sync" or "async"
    Servers,        \* the lock servers (Redis nodes, or one ZooKeeper- or Chubby-style service):
                    \* {0, 1, ...} as in Rust, or model values for symmetry reduction
    NumClients,
    Attempts,       \* acquire attempts per client (1 + retries)
    TTL,            \* key time to live, in ticks of the server's clock
    Drift,          \* the drift allowance the client subtracts from every validity
    NodeTimeout,    \* how long a client waits for a node's reply
    RetryDelay,     \* the delay before a retry
    WriteMargin,    \* the client writes only while more validity than this is left
    Delay,          \* a message arrives within Delay ticks (0: before time passes); None: any delay
    Skew,           \* a server measures T ticks as T +/- Skew real ticks; None: any rate
    PauseBound,     \* a pause lasts at most this many ticks; None: unbounded
    Service,        \* "redis", "zoo_keeper", "chubby" (they behave alike for one lock), or
                    \* "etcd" (a store of leases whose clients run the lease-lock core)
    Replicas,       \* asynchronous replicas per server, one of which a failover promotes
    WaitReplicas,   \* after SET NX PX the client runs WAIT n (Redisson); None: no WAIT
    LockDelay,      \* Chubby's lock-delay, in ticks of the service's clock; None: none
    Encoding,       \* "correct", "plain_del", "get_then_del", "setnx_then_expire"
    Fencing,        \* "off", "counter", "unique", "zxid", "sequencer", "revision" (etcd's)
    ResourceKind,   \* None, "unfenced", "fenced", "fenced_check_then_write",
                    \* "check_sequencer", "unique_token_cas"
    Watchdog,       \* the holder extends its lock every TTL/3 (Redisson's watchdog, KeepAlives)
    MaxExtensions,  \* extensions per hold
    RestartMode,    \* None, "empty", "fsync", "delayed": a server may crash and restart so (once)
    FailoverFault,  \* a replica may be promoted (once)
    ClockJumpBy,    \* one server's clock may jump forward by this much (once); None: never
    ClientCrashes,  \* a client may crash between SETNX and EXPIRE (once)
    Pauses          \* client pauses a run may suffer, in all

Opt(x) == x = None \/ x \in Nat
ASSUME Timing \in {"sync", "async"}
ASSUME IsFiniteSet(Servers) /\ Servers # {} /\ NumClients \in Nat \ {0} /\ Attempts \in Nat \ {0}
ASSUME TTL \in Nat \ {0} /\ Drift \in Nat /\ Drift < TTL
ASSUME NodeTimeout \in Nat \ {0} /\ RetryDelay \in Nat /\ WriteMargin \in Nat
ASSUME Opt(Delay) /\ Opt(Skew) /\ Opt(PauseBound) /\ Opt(ClockJumpBy) /\ Opt(LockDelay)
ASSUME Skew # None => Skew < TTL
ASSUME Replicas \in Nat /\ Opt(WaitReplicas) /\ (WaitReplicas # None => WaitReplicas <= Replicas)
ASSUME Watchdog \in BOOLEAN /\ FailoverFault \in BOOLEAN /\ ClientCrashes \in BOOLEAN
ASSUME MaxExtensions \in Nat /\ Pauses \in Nat
ASSUME Service \in {"redis", "zoo_keeper", "chubby", "etcd"}
ASSUME (Replicas > 0 \/ Service # "redis") => Cardinality(Servers) = 1
ASSUME Encoding \in {"correct", "plain_del", "get_then_del", "setnx_then_expire"}
ASSUME Fencing \in {"off", "counter", "unique", "zxid", "sequencer", "revision"}
ASSUME ResourceKind \in {None, "unfenced", "fenced", "fenced_check_then_write", "check_sequencer",
                         "unique_token_cas"}
ASSUME RestartMode \in {None, "empty", "fsync", "delayed"}
\* A check-and-set resource needs tokens (a claim of "no token" is not modelled).
ASSUME ResourceKind = "unique_token_cas" => Fencing # "off"
\* The etcd-style store is one linearizable store that never crashes (model/src/etcd.rs says
\* why that is sound); its create revision is the only token it gives.
ASSUME Service = "etcd" => RestartMode = None /\ Replicas = 0
ASSUME Fencing = "revision" => Service = "etcd"

VARIABLES
    server,     \* [Servers -> server state]
    client,     \* [Clients -> client state]
    resource,   \* the resource's state
    net,        \* [Flows -> Seq([msg, age])]: the messages in flight on each flow, oldest first
    judge,      \* the judge's state
    budget      \* the faults the run may still inject

vars == <<server, client, resource, net, judge, budget>>

-----------------------------------------------------------------------------
(* Actors and their ids, as in the Rust model: servers 0..NumServers-1,    *)
(* then the clients, then the resource. Servers may instead be model       *)
(* values, so that TLC can reduce by their symmetry (nothing in the spec   *)
(* tells one server from another: they are never ordered or counted).      *)

NumServers == Cardinality(Servers)
Clients == 0 .. NumClients - 1
ClientActor(c) == NumServers + c
ClientOf(a) == a - NumServers
ClientActors == {ClientActor(c) : c \in Clients}
ResourceActor == NumServers + NumClients
IsServer(a) == a \in Servers
IsClient(a) == a \in ClientActors
HasResource == ResourceKind # None
\* The servers in some fixed order (requests to different servers travel on different flows,
\* so the order in which they are sent does not matter).
ServerSeq == CHOOSE q \in [1 .. NumServers -> Servers] : \A i, j \in 1 .. NumServers : i # j => q[i] # q[j]
\* The one server a Chubby-style service has (the resource asks it CheckSequencer).
TheServer == ServerSeq[1]

Quorum == NumServers \div 2 + 1

\* The directed message flows; each is FIFO (a TCP connection).
Flows ==
    {<<ClientActor(c), s>> : c \in Clients, s \in Servers}
    \cup {<<s, ClientActor(c)>> : c \in Clients, s \in Servers}
    \cup (IF HasResource
          THEN {<<ClientActor(c), ResourceActor>> : c \in Clients}
               \cup {<<ResourceActor, ClientActor(c)>> : c \in Clients}
          ELSE {})
    \cup (IF ResourceKind = "check_sequencer"
          THEN {<<ResourceActor, TheServer>>, <<TheServer, ResourceActor>>} ELSE {})

Max(a, b) == IF a >= b THEN a ELSE b
Min(a, b) == IF a <= b THEN a ELSE b
SetMax(S) == CHOOSE x \in S : \A y \in S : y <= x
SetMin(S) == CHOOSE x \in S : \A y \in S : x <= y

RECURSIVE SeqOf(_)
\* The elements of a finite set of integers, in ascending order.
SeqOf(S) == IF S = {} THEN <<>> ELSE <<SetMin(S)>> \o SeqOf(S \ {SetMin(S)})

RECURSIVE Concat(_)
Concat(seqs) == IF seqs = <<>> THEN <<>> ELSE Head(seqs) \o Concat(Tail(seqs))

\* An absent optional number (Rust's None) in the state: every such number is otherwise >= 0.
NoVal == -1

-----------------------------------------------------------------------------
(* Windows: relative countdowns to the earliest and latest real tick at    *)
(* which something measured on a server's clock may happen (setup.rs).     *)

NoWindow == [earliest |-> NoVal, latest |-> NoVal]

\* The window of an interval of `length` ticks of a server's clock.
MkWindow(length) ==
    IF Skew = None THEN [earliest |-> 0, latest |-> NoVal]
    ELSE [earliest |-> Max(length - Skew, 0), latest |-> length + Skew]

Due(w) == w.earliest = 0               \* it may happen now
Overdue(w) == w.latest = 0             \* it must happen before time passes
Counting(w) == w.earliest > 0 \/ w.latest > 0

TickWindow(w) ==
    IF w = NoWindow THEN w
    ELSE [earliest |-> Max(w.earliest - 1, 0),
          latest |-> IF w.latest = NoVal THEN NoVal ELSE Max(w.latest - 1, 0)]

\* The server's clock jumps forward by `by`. With bounded clocks (sync) the jump
\* cannot take the clock outside its drift bound: the end moves only within the window.
JumpWindow(w, by, bounded) ==
    IF w = NoWindow THEN w
    ELSE IF bounded /\ w.latest # NoVal
    THEN [w EXCEPT !.latest = Max(Max(w.latest - by, 0), w.earliest)]
    ELSE [earliest |-> Max(w.earliest - by, 0),
          latest |-> IF w.latest = NoVal THEN NoVal ELSE Max(w.latest - by, 0)]

\* When an actor's own step may happen: "no", "now" (and before time passes), "whenever".
WindowDue(w) == IF w = NoWindow THEN "no" ELSE IF Overdue(w) THEN "now" ELSE IF Due(w) THEN "whenever" ELSE "no"
\* A step that is part of the message delay (replication, applying a checked write).
DelayDue == IF Delay # None THEN "now" ELSE "whenever"

-----------------------------------------------------------------------------
(* Messages (model/src/msg.rs). Parameters fixed by the configuration (the *)
(* TTL of SET NX PX and EXPIRE, the INCR of the acquire script, the WAIT)  *)
(* are left out. Tokens: 0 is "no token" (real tokens start at 1), which   *)
(* also orders below every token, as Rust's None does.                     *)

MAcquire(r) == [type |-> "Acquire", round |-> r]
MExpire == [type |-> "Expire"]
MExtend(r) == [type |-> "Extend", round |-> r]
MRelease == [type |-> "Release"]
MDelete == [type |-> "Delete"]
MGet == [type |-> "Get"]
MAcquireReply(r, reply) == [type |-> "AcquireReply", round |-> r, reply |-> reply]
MExtendReply(r, reply) == [type |-> "ExtendReply", round |-> r, reply |-> reply]
MGetReply(owner) == [type |-> "GetReply", owner |-> owner]
MCheckSequencer(c, t) == [type |-> "CheckSequencer", client |-> c, token |-> t]
MSequencerValid(c, valid) == [type |-> "SequencerValid", client |-> c, valid |-> valid]
MClaim(t) == [type |-> "Claim", token |-> t]
MRead(t) == [type |-> "Read", token |-> t]
MWrite(v, t) == [type |-> "Write", value |-> v, token |-> t]
MReadReply(v) == [type |-> "ReadReply", value |-> v]
MWriteReply(applied) == [type |-> "WriteReply", applied |-> applied]
\* Client -> etcd-style store, and back. A lease id is its client's number + 1.
MGrantLease == [type |-> "GrantLease"]
MLeaseGranted(lease) == [type |-> "LeaseGranted", lease |-> lease]
MCreateIfAbsent(lease) == [type |-> "CreateIfAbsent", lease |-> lease]
MCreated(r) == [type |-> "Created", revision |-> r]
MTaken(r) == [type |-> "Taken", revision |-> r]
MTxnFailed == [type |-> "TxnFailed"]
MWatchDeletion(after) == [type |-> "WatchDeletion", after |-> after]
MFreed == [type |-> "Freed"]
MKeepAlive(lease, t) == [type |-> "KeepAlive", lease |-> lease, token |-> t]
MKeptAlive(alive) == [type |-> "KeptAlive", alive |-> alive]
MRevokeLease(lease) == [type |-> "RevokeLease", lease |-> lease]
MDeleteKey(t) == [type |-> "DeleteKey", token |-> t]

Ok(t) == [kind |-> "Ok", token |-> t]
Refused == [kind |-> "Refused", token |-> 0]
ErrorReply == [kind |-> "Error", token |-> 0]

\* A message in flight, with the ticks it has waited (counted only under a delay bound above 0).
InFlight(m) == [msg |-> m, age |-> 0]

-----------------------------------------------------------------------------
(* Events (impl/src/sans_io/event.rs): those the judge reads, with the     *)
(* fields it reads.                                                        *)

EvC(kind, c) == [kind |-> kind, client |-> c]
EvKeySet(n, owner, expires) == [kind |-> "KeySet", node |-> n, owner |-> owner, expires |-> expires]
EvKeyDeleted(n, owner, by) == [kind |-> "KeyDeleted", node |-> n, owner |-> owner, by |-> by]
EvKey(kind, n, owner) == [kind |-> kind, node |-> n, owner |-> owner]   \* KeyExpired, KeyLost
EvNode(kind, n) == [kind |-> kind, node |-> n]                          \* NodeDown, NodeUp
EvValue(kind, c, v) == [kind |-> kind, client |-> c, value |-> v]       \* ResourceRead, WriteApplied
EvRefused(c, n) == [kind |-> "Refused", client |-> c, node |-> n]

-----------------------------------------------------------------------------
(* The judge (impl/src/sans_io/judge.rs): a fold over events that keeps    *)
(* only what later events can still contradict. Ranks order holders by     *)
(* when the lock service granted them, kept dense (0, 1, ...). A violation *)
(* is recorded once per property, with what its explanation names.         *)

JudgeInit ==
    [holding |-> [c \in Clients |-> FALSE],
     acquiring |-> [c \in Clients |-> FALSE],
     rank |-> [c \in Clients |-> NoVal],
     sets |-> [c \in Clients |-> 0],
     ranked |-> [c \in Clients |-> FALSE],
     read |-> [c \in Clients |-> NoVal],
     keys |-> [n \in Servers |-> [owner |-> NoVal, expires |-> FALSE]],
     down |-> {},
     refused |-> [c \in Clients |-> {}],  \* servers that refused its key since its grant or extension
     refusalReported |-> FALSE,    \* a holder reported a loss that a majority's refusals told it of
     grants |-> 0,                 \* counted up to two
     newest |-> NoVal,             \* rank of the newest holder whose write was applied
     value |-> 0,
     violations |-> <<>>,
     known |-> {}]                 \* the clients it keeps a view of (see Know)

Violated(j, p) == \E i \in 1 .. Len(j.violations) : j.violations[i].property = p

Violate(j, v) == IF Violated(j, v.property) THEN j ELSE [j EXCEPT !.violations = Append(@, v)]

Holders(j) == {c \in Clients : j.holding[c]}

RanksUsed(j) ==
    {j.rank[c] : c \in {d \in Clients : j.rank[d] # NoVal}}
    \cup (IF j.newest # NoVal THEN {j.newest} ELSE {})

NormalizeRanks(j) ==
    LET used == RanksUsed(j)
        dense(r) == IF r = NoVal THEN NoVal ELSE Cardinality({u \in used : u < r})
    IN [j EXCEPT !.rank = [c \in Clients |-> dense(j.rank[c])], !.newest = dense(j.newest)]

\* The lock service gave the lock to c: it is the newest holder.
Rank(j, c) ==
    LET used == RanksUsed(j)
        r == IF used = {} THEN 0 ELSE SetMax(used) + 1
    IN NormalizeRanks([j EXCEPT !.ranked[c] = TRUE, !.sets[c] = 0, !.rank[c] = r])

EndAttempt(j, c) == [j EXCEPT !.acquiring[c] = FALSE, !.ranked[c] = FALSE, !.sets[c] = 0]

OpenWindow(j, c, how) ==
    LET others == Holders(j) \ {c}
        j1 == IF others = {} THEN j
              ELSE Violate(j, [property |-> "MutualExclusion", client |-> c,
                               other |-> SetMin(others), how |-> how])
    IN [j1 EXCEPT !.holding[c] = TRUE]

WriteApplied(j, c, value) ==
    LET j1 == IF j.newest # NoVal /\ (j.rank[c] = NoVal \/ j.rank[c] < j.newest)
              THEN LET later == {d \in Clients : j.rank[d] = j.newest}
                   IN Violate(j, [property |-> "OrderedFencedWrites", client |-> c,
                                  older |-> j.rank[c] # NoVal,
                                  later |-> IF later = {} THEN NoVal ELSE SetMin(later)])
              ELSE j
        j2 == IF j.rank[c] # NoVal
              THEN [j1 EXCEPT !.newest = IF @ = NoVal THEN j.rank[c] ELSE Max(@, j.rank[c])]
              ELSE j1
        j3 == IF j.read[c] # NoVal /\ j.read[c] # j.value
              THEN Violate(j2, [property |-> "NoLostUpdate", client |-> c, value |-> value,
                                read |-> j.read[c], over |-> j.value])
              ELSE j2
    IN [j3 EXCEPT !.value = value, !.read[c] = NoVal]

\* A holder that a majority can no longer hold the key of must have reported the loss
\* before it takes another step.
CheckReported(j, c, step) ==
    IF j.holding[c] /\ Cardinality(j.refused[c]) > NumServers - Quorum
    THEN Violate(j, [property |-> "LostLockReported", client |-> c, step |-> step])
    ELSE j

JudgeApply(j, e) ==
    CASE e.kind = "AcquireStarted" ->
            [CheckReported(j, e.client, "started another attempt")
                EXCEPT !.acquiring[e.client] = TRUE, !.sets[e.client] = 0, !.ranked[e.client] = FALSE,
                       !.refused[e.client] = {}]
      [] e.kind = "KeySet" ->
            LET j1 == [j EXCEPT !.keys[e.node] = [owner |-> e.owner, expires |-> e.expires]]
                o == e.owner
            IN IF j1.acquiring[o] /\ ~j1.ranked[o]
               THEN IF j1.sets[o] + 1 >= Quorum THEN Rank(j1, o)
                    ELSE [j1 EXCEPT !.sets[o] = @ + 1]
               ELSE j1
      [] e.kind = "Granted" ->
            LET j0 == [CheckReported(j, e.client, "was granted the lock again") EXCEPT !.refused[e.client] = {}]
                j1 == OpenWindow(j0, e.client, "was granted the lock")
                j2 == IF ~j1.ranked[e.client] THEN Rank(j1, e.client) ELSE j1
            IN EndAttempt([j2 EXCEPT !.grants = Min(@ + 1, 2)], e.client)
      [] e.kind = "AcquireFailed" ->
            \* A quorum the client could not use (its validity ran out) is no hold.
            LET j1 == IF j.ranked[e.client]
                      THEN NormalizeRanks([j EXCEPT !.rank[e.client] = NoVal]) ELSE j
            IN EndAttempt(j1, e.client)
      [] e.kind = "Extended" ->
            LET j1 == [CheckReported(j, e.client, "extended it") EXCEPT !.refused[e.client] = {}]
            IN IF j1.holding[e.client] THEN j1
               ELSE OpenWindow(j1, e.client, "extended a lock it no longer held")
      [] e.kind = "ValidityEnded" ->
            [CheckReported(j, e.client, "believed it held the lock until its validity ran out")
                EXCEPT !.holding[e.client] = FALSE]
      [] e.kind = "LockLost" ->
            [j EXCEPT !.refusalReported = @ \/ (j.holding[e.client]
                                                /\ Cardinality(j.refused[e.client]) > NumServers - Quorum),
                      !.holding[e.client] = FALSE]
      [] e.kind = "Refused" ->
            IF j.holding[e.client] THEN [j EXCEPT !.refused[e.client] = @ \cup {e.node}] ELSE j
      [] e.kind \in {"ReleaseStarted", "ClientCrashed"} ->
            \* it holds nothing any more: a later write of its own ranks below every holder
            NormalizeRanks([EndAttempt(j, e.client) EXCEPT !.holding[e.client] = FALSE,
                                                        !.rank[e.client] = NoVal])
      [] e.kind = "KeyDeleted" ->
            LET j1 == IF e.owner # e.by
                      THEN Violate(j, [property |-> "OwnerOnlyRelease", by |-> e.by,
                                       owner |-> e.owner, node |-> e.node])
                      ELSE j
            IN [j1 EXCEPT !.keys[e.node] = [owner |-> NoVal, expires |-> FALSE]]
      [] e.kind \in {"KeyExpired", "KeyLost"} ->
            IF j.keys[e.node].owner = e.owner
            THEN [j EXCEPT !.keys[e.node] = [owner |-> NoVal, expires |-> FALSE]] ELSE j
      [] e.kind = "NodeDown" -> [j EXCEPT !.down = @ \cup {e.node}]
      [] e.kind = "NodeUp" -> [j EXCEPT !.down = @ \ {e.node}]
      [] e.kind = "ResourceRead" -> [CheckReported(j, e.client, "read the resource") EXCEPT !.read[e.client] = e.value]
      [] e.kind = "WriteApplied" -> WriteApplied(CheckReported(j, e.client, "wrote to the resource"), e.client, e.value)
      [] e.kind = "WriteRejected" -> CheckReported(j, e.client, "wrote to the resource")

\* Bounded liveness (docs/design.md): once nobody holds or acquires, every expiring key is
\* gone and a majority is up, a majority of the up servers must be free.
CheckAcquirable(j) ==
    LET up == NumServers - Cardinality(j.down)
        live == {n \in Servers : j.keys[n].owner # NoVal /\ n \notin j.down}
        premise == /\ \A c \in Clients : ~j.holding[c] /\ ~j.acquiring[c]
                   /\ \A n \in live : ~j.keys[n].expires
                   /\ up >= Quorum
    IN IF premise /\ up - Cardinality(live) < Quorum
       THEN Violate(j, [property |-> "EventuallyAcquirable",
                        owners |-> {<<n, j.keys[n].owner>> : n \in live}])
       ELSE j

\* The clients the Rust judge keeps a view of. Its views are a map whose entry for a client
\* appears with the first event that reads or writes the view (every event of a client but
\* WriteRejected; of the key events, KeySet for its owner) and stays. A missing view judges like
\* a fresh one, but the two are different states, so the twin keeps the map's keys too. A
\* Redlock client is known from its first step on (AcquireStarted); a client of the etcd-style
\* store only from its first CreateIfAbsent or failed attempt, so its first lease request and
\* one after a wait for the key's deletion may differ in nothing else.
Know(j, e) ==
    CASE e.kind = "KeySet" -> [j EXCEPT !.known = @ \cup {e.owner}]
      [] e.kind \in {"AcquireStarted", "Granted", "AcquireFailed", "Extended", "ValidityEnded",
                     "LockLost", "Refused", "ReleaseStarted", "ClientCrashed", "ResourceRead",
                     "WriteApplied"} -> [j EXCEPT !.known = @ \cup {e.client}]
      [] OTHER -> j

RECURSIVE Judge(_, _)
\* The judge after observing the events `evs`, in order.
Judge(j, evs) ==
    IF evs = <<>> THEN j
    ELSE Judge(CheckAcquirable(JudgeApply(Know(j, Head(evs)), Head(evs))), Tail(evs))

-----------------------------------------------------------------------------
(* The Redlock client core (impl/src/sans_io/protocol.rs): a state machine *)
(* fed inputs with a reading of the client's clock, answering with         *)
(* outputs. Fields that do not apply in a phase hold fixed values.         *)

NoRound == [number |-> 0, started |-> 0, pending |-> {}, ok |-> {}, token |-> 0]

\* `gone`: servers that said, during this hold, that the key is not ours (Held, Extending).
LockInit == [phase |-> "Idle", round |-> NoRound, until |-> NoVal, token |-> 0, gone |-> {},
             attempts |-> 0, rounds |-> 0]

SetPhase(l, phase, round, until, token) ==
    [l EXCEPT !.phase = phase, !.round = round, !.until = until, !.token = token,
              !.gone = IF phase \in {"Held", "Extending"} THEN @ ELSE {}]

HeldUntil(l) == IF l.phase \in {"Held", "Extending"} THEN l.until ELSE NoVal
LockToken(l) == IF l.phase \in {"Held", "Extending"} THEN l.token ELSE 0
RoundDeadline(l) ==
    IF l.phase \in {"Acquiring", "Extending"} THEN l.round.started + NodeTimeout ELSE NoVal

\* Outputs.
Out(kind) == [kind |-> kind]
ToEveryNode(kind, round) == [i \in 1 .. NumServers |-> [kind |-> kind, node |-> ServerSeq[i], round |-> round]]
ReleaseEverywhere == ToEveryNode("SendRelease", 0)

StartRound(l, now, send) ==
    LET n == l.rounds + 1
    IN [round |-> [number |-> n, started |-> now, pending |-> Servers, ok |-> {}, token |-> 0],
        outs |-> ToEveryNode(send, n) \o <<Out("WakeAt")>>]

RecordReply(r, node, reply) ==
    [r EXCEPT !.pending = @ \ {node},
              !.ok = IF reply.kind = "Ok" THEN @ \cup {node} ELSE @,
              !.token = IF reply.kind = "Ok" THEN Max(@, reply.token) ELSE @]

\* Success as soon as a quorum said OK (if validity is left), failure as soon as a quorum
\* is out of reach. The lock is held until local time started + TTL - drift.
Outcome(r, now) ==
    IF Cardinality(r.ok) >= Quorum
    THEN IF TTL - Drift > Max(now - r.started, 0)
         THEN [kind |-> "Valid", until |-> r.started + TTL - Drift]
         ELSE [kind |-> "Failed"]
    ELSE IF Cardinality(r.ok) + Cardinality(r.pending) < Quorum
         THEN [kind |-> "Failed"] ELSE [kind |-> "Pending"]

Lose(l) == [lock |-> SetPhase(l, "Lost", NoRound, NoVal, 0), outs |-> <<Out("Lost")>>]

SettleAcquire(l, now) ==
    LET o == Outcome(l.round, now)
    IN CASE o.kind = "Pending" -> [lock |-> l, outs |-> <<>>]
         [] o.kind = "Valid" ->
              [lock |-> SetPhase(l, "Held", NoRound, o.until, l.round.token),
               outs |-> <<[kind |-> "Acquired", token |-> l.round.token]>>]
         [] OTHER ->
              IF l.attempts <= Attempts - 1
              THEN [lock |-> SetPhase(l, "Backoff", NoRound, NoVal, 0),
                    outs |-> ReleaseEverywhere \o <<Out("RetryAfter")>>]
              ELSE [lock |-> SetPhase(l, "Failed", NoRound, NoVal, 0),
                    outs |-> ReleaseEverywhere \o <<Out("Failed")>>]

\* A majority's refusals lose the lock at once; a failed round whose missing answers could
\* still make a majority refuse waits for them.
SettleExtend(l, now) ==
    LET mayLack == NumServers - Quorum
        o == Outcome(l.round, now)
        lossPossible == Cardinality(l.round.ok) < Quorum /\ Cardinality(l.gone \cup l.round.pending) > mayLack
    IN IF Cardinality(l.gone) > mayLack THEN Lose(l)
       ELSE IF o.kind = "Pending" \/ (o.kind = "Failed" /\ lossPossible) THEN [lock |-> l, outs |-> <<>>]
       ELSE IF now >= l.until THEN Lose(l)   \* the old validity ran out first
       ELSE IF o.kind = "Valid"
            THEN [lock |-> SetPhase(l, "Held", NoRound, o.until, l.token), outs |-> <<Out("Extended")>>]
            ELSE [lock |-> SetPhase(l, "Held", NoRound, l.until, l.token), outs |-> <<Out("ExtendFailed")>>]

\* LockState::handle: input `in` observed at local time `now`.
Handle(l, now, in) ==
    CASE (l.phase = "Idle" /\ in.kind = "Acquire") \/ (l.phase = "Backoff" /\ in.kind = "Retry") ->
            LET sr == StartRound(l, now, "SendAcquire")
            IN [lock |-> [SetPhase(l, "Acquiring", sr.round, NoVal, 0)
                            EXCEPT !.attempts = @ + 1, !.rounds = sr.round.number],
                outs |-> sr.outs]
      [] l.phase = "Acquiring" /\ in.kind = "Reply" /\ in.round = l.round.number
            /\ in.node \in l.round.pending ->
            SettleAcquire([l EXCEPT !.round = RecordReply(@, in.node, in.reply)], now)
      [] l.phase = "Acquiring" /\ in.kind = "Timeout" /\ now >= l.round.started + NodeTimeout ->
            SettleAcquire([l EXCEPT !.round.pending = {}], now)
      [] l.phase = "Held" /\ in.kind = "Extend" ->
            IF now >= l.until THEN Lose(l)
            ELSE LET sr == StartRound(l, now, "SendExtend")
                 IN [lock |-> [SetPhase(l, "Extending", sr.round, l.until, l.token)
                                 EXCEPT !.rounds = sr.round.number],
                     outs |-> sr.outs]
      [] l.phase = "Held" /\ in.kind = "Timeout" /\ now >= l.until -> Lose(l)
      [] l.phase = "Extending" /\ in.kind = "Reply" /\ in.round = l.round.number
            /\ in.node \in l.round.pending ->
            SettleExtend([l EXCEPT !.round = RecordReply(@, in.node, in.reply),
                                   !.gone = IF in.reply.kind = "Refused" THEN @ \cup {in.node} ELSE @], now)
      [] l.phase = "Extending" /\ in.kind = "Timeout" /\ now >= l.round.started + NodeTimeout ->
            SettleExtend([l EXCEPT !.round.pending = {}], now)
      [] l.phase \in {"Acquiring", "Backoff", "Held", "Extending", "Lost"} /\ in.kind = "Release" ->
            [lock |-> SetPhase(l, "Released", NoRound, NoVal, 0), outs |-> ReleaseEverywhere]
      [] OTHER -> [lock |-> l, outs |-> <<>>]   \* stale: a late reply, a timer that lost a race

-----------------------------------------------------------------------------
(* The lease-lock core (impl/src/sans_io/lease_lock.rs), which the clients *)
(* of an etcd-style store drive: a lease, the key created with it only if  *)
(* absent (its create revision is the token), a wait for the key's         *)
(* deletion when it is taken, keep-alives. Its parameters are the Rust     *)
(* model's (lease_params in model/src/client.rs): the lease's TTL, Drift,  *)
(* NodeTimeout for one request, and TTL again for the whole acquire. The   *)
(* state is the phase (a record named after LeasePhase's variant) and the  *)
(* time the acquire started; fields a phase does not have hold fixed       *)
(* values: lease 0 (lease ids start at 1), token 0, times NoVal.           *)

LeasePhase(name) ==
    [name |-> name, lease |-> 0, asked |-> NoVal, until |-> NoVal, token |-> 0, sent |-> NoVal]
Granting(asked) == [LeasePhase("Granting") EXCEPT !.asked = asked]
Creating(lease, asked) == [LeasePhase("Creating") EXCEPT !.lease = lease, !.asked = asked]
Held(lease, until, token) == [LeasePhase("Held") EXCEPT !.lease = lease, !.until = until, !.token = token]
KeepingAlive(lease, until, token, sent) ==
    [Held(lease, until, token) EXCEPT !.name = "KeepingAlive", !.sent = sent]
Lost(lease, token) == [LeasePhase("Lost") EXCEPT !.lease = lease, !.token = token]

LeasePhases == {"Idle", "Granting", "Creating", "Waiting", "Held", "KeepingAlive", "Released",
                "NotAcquired", "Lost"}

LeaseInit == [phase |-> LeasePhase("Idle"), started |-> 0]

LeaseHeldUntil(l) == IF l.phase.name \in {"Held", "KeepingAlive"} THEN l.phase.until ELSE NoVal
LeaseToken(l) == IF l.phase.name \in {"Held", "KeepingAlive"} THEN l.phase.token ELSE 0

OutWakeAt(at) == [kind |-> "WakeAt", at |-> at]
OutCreateIfAbsent(lease) == [kind |-> "CreateIfAbsent", lease |-> lease]
OutRevokeLease(lease) == [kind |-> "RevokeLease", lease |-> lease]
OutDeleteKey(token) == [kind |-> "DeleteKey", token |-> token]

\* The lease lock state `l` moved to `phase`, with the outputs `outs`.
LeaseStep(l, phase, outs) == [lease |-> [l EXCEPT !.phase = phase], outs |-> outs]

Grant(l, now) == LeaseStep(l, Granting(now), <<Out("GrantLease"), OutWakeAt(now + NodeTimeout)>>)

\* The acquire failed: undo what may exist (a lease, a key created too late; 0: nothing).
GiveUp(l, lease, created) ==
    LeaseStep(l, LeasePhase("NotAcquired"),
              (IF created # 0 THEN <<OutDeleteKey(created)>> ELSE <<>>)
              \o (IF lease # 0 THEN <<OutRevokeLease(lease)>> ELSE <<>>)
              \o <<Out("NotAcquired")>>)

LoseLease(l) == LeaseStep(l, Lost(l.phase.lease, l.phase.token), <<Out("Lost")>>)

\* LeaseLockState::handle: input `in` observed at local time `now`.
LeaseHandle(l, now, in) ==
    LET p == l.phase
        deadline == l.started + TTL
    IN CASE p.name = "Idle" /\ in.kind = "Acquire" -> Grant([l EXCEPT !.started = now], now)
         [] p.name = "Granting" /\ in.kind = "LeaseGranted" ->
              LeaseStep(l, Creating(in.lease, p.asked),
                        <<OutCreateIfAbsent(in.lease), OutWakeAt(now + NodeTimeout)>>)
         [] p.name = "Creating" /\ in.kind = "Created" ->
              LET until == p.asked + TTL - Drift
              \* created so late that the lease may be gone already: no hold
              IN IF now >= until THEN GiveUp(l, p.lease, in.revision)
                 ELSE LeaseStep(l, Held(p.lease, until, in.revision),
                                <<[kind |-> "Acquired", token |-> in.revision], OutWakeAt(until)>>)
         [] p.name = "Creating" /\ in.kind = "Taken" ->
              IF now >= deadline
              THEN [GiveUp(l, 0, 0) EXCEPT !.outs = <<OutRevokeLease(p.lease)>> \o @]
              ELSE LeaseStep(l, LeasePhase("Waiting"),
                             <<OutRevokeLease(p.lease), [kind |-> "WatchDeletion", after |-> in.revision],
                               OutWakeAt(deadline)>>)
         [] p.name = "Waiting" /\ in.kind = "Freed" -> IF now < deadline THEN Grant(l, now) ELSE GiveUp(l, 0, 0)
         [] p.name = "Waiting" /\ in.kind = "Timeout" /\ now >= deadline -> GiveUp(l, 0, 0)
         [] p.name \in {"Granting", "Waiting"} /\ in.kind = "Failed" -> GiveUp(l, 0, 0)
         [] p.name = "Granting" /\ in.kind = "Timeout" /\ now >= p.asked + NodeTimeout -> GiveUp(l, 0, 0)
         \* the create may still land, or may have: revoking the lease deletes what it made
         [] p.name = "Creating" /\ (in.kind = "Failed" \/ (in.kind = "Timeout" /\ now >= p.asked + NodeTimeout)) ->
              GiveUp(l, p.lease, 0)
         [] p.name = "Held" /\ in.kind = "KeepAlive" ->
              IF now >= p.until THEN LoseLease(l)
              ELSE LeaseStep(l, KeepingAlive(p.lease, p.until, p.token, now),
                             <<[kind |-> "SendKeepAlive", lease |-> p.lease, token |-> p.token],
                               OutWakeAt(Min(now + NodeTimeout, p.until))>>)
         [] p.name = "Held" /\ in.kind = "Timeout" /\ now >= p.until -> LoseLease(l)
         [] p.name = "KeepingAlive" /\ in.kind = "KeptAlive" ->
              \* not alive: the store says the lease is gone, and the key went with it
              IF ~in.alive \/ now >= p.until THEN LoseLease(l)
              ELSE LET renewed == Max(p.sent + TTL - Drift, p.until)
                   IN LeaseStep(l, Held(p.lease, renewed, p.token), <<Out("Extended"), OutWakeAt(renewed)>>)
         [] p.name = "KeepingAlive"
            /\ (in.kind = "Failed" \/ (in.kind = "Timeout" /\ (now >= p.sent + NodeTimeout \/ now >= p.until))) ->
              IF now >= p.until THEN LoseLease(l)
              ELSE LeaseStep(l, Held(p.lease, p.until, p.token), <<Out("ExtendFailed"), OutWakeAt(p.until)>>)
         [] p.name \in {"Held", "KeepingAlive", "Lost"} /\ in.kind = "Release" ->
              LeaseStep(l, LeasePhase("Released"), <<OutDeleteKey(p.token), OutRevokeLease(p.lease)>>)
         [] p.name = "Creating" /\ in.kind = "Release" ->
              LeaseStep(l, LeasePhase("Released"), <<OutRevokeLease(p.lease)>>)
         [] p.name \in {"Idle", "Granting", "Waiting"} /\ in.kind = "Release" ->
              LeaseStep(l, LeasePhase("Released"), <<>>)
         [] OTHER -> [lease |-> l, outs |-> <<>>]   \* stale: a late answer, a timer that lost a race

-----------------------------------------------------------------------------
(* An actor's step is computed as an effect: its new local state, the      *)
(* messages it sends (in order) and the events it produces (in order).     *)

Effect(who, st) == [who |-> who, st |-> st, sends |-> <<>>, ev |-> <<>>]
Send(e, dst, m) == [e EXCEPT !.sends = Append(@, <<dst, m>>)]
Emit(e, ev) == [e EXCEPT !.ev = Append(@, ev)]
SetTimer(e, t) == [e EXCEPT !.st.timers = @ \cup {t}]
CancelTimer(e, t) == [e EXCEPT !.st.timers = @ \ {t}]

RECURSIVE AddSends(_, _, _)
\* The network after actor `src` sent `sends`.
AddSends(n, src, sends) ==
    IF sends = <<>> THEN n
    ELSE LET dst == Head(sends)[1]
             m == Head(sends)[2]
         IN AddSends([n EXCEPT ![<<src, dst>>] = Append(@, InFlight(m))], src, Tail(sends))

-----------------------------------------------------------------------------
(* Clients (model/src/client.rs): drive the core with messages and their   *)
(* own clock, then work on the resource (read, check, write) and release.  *)
(* A client of the etcd-style store drives the lease-lock core (`lease`)   *)
(* instead, and keeps the local time it asked to be woken at (`wakeAt`).   *)

\* A pause: NotPaused, Unbounded, or the ticks it may still last.
NotPaused == -2
Unbounded == -1

Stages == {"Idle", "Acquiring", "Granted", "Reading", "ReadyToWrite", "Writing", "Holding", "Done"}
ClientTimers == {"Start", "Deadline", "Retry", "Work", "Write", "SendExpire", "Extend", "Release"}
\* A client's first step, taken with a tick (see Tick).
QuietTimers == {"Start"}

ClientInit ==
    [clock |-> 0, lock |-> LockInit, lease |-> LeaseInit, wakeAt |-> NoVal, stage |-> "Idle",
     paused |-> NotPaused, retryAt |-> NoVal, extendAt |-> NoVal, extensions |-> 0, read |-> NoVal,
     expirePending |-> {}, timers |-> {"Start"}, crashed |-> FALSE]

Active(cs) == cs.stage \notin {"Idle", "Done"}

\* The local time until which the client believes it holds the lock, by whichever core it drives.
ClientHeldUntil(cs) == IF HeldUntil(cs.lock) # NoVal THEN HeldUntil(cs.lock) ELSE LeaseHeldUntil(cs.lease)

\* Validity left now, or 0.
Remaining(cs) ==
    IF ClientHeldUntil(cs) # NoVal /\ cs.clock < ClientHeldUntil(cs) THEN ClientHeldUntil(cs) - cs.clock ELSE 0

\* Something the client waits for lies ahead on its clock.
WaitsOnClock(cs) ==
    /\ Active(cs)
    /\ \/ RoundDeadline(cs.lock) > cs.clock
       \/ HeldUntil(cs.lock) > cs.clock
       \/ LeaseHeldUntil(cs.lease) > cs.clock
       \/ cs.wakeAt > cs.clock
       \/ cs.retryAt > cs.clock
       \/ cs.extendAt > cs.clock

CountsTime(cs) == WaitsOnClock(cs) \/ (cs.paused \in Nat /\ cs.paused > 0)

\* The clock only moves while the client waits on it.
TickClient(cs) ==
    [cs EXCEPT !.clock = IF WaitsOnClock(cs) THEN @ + 1 ELSE @,
               !.paused = IF @ \in Nat THEN Max(@ - 1, 0) ELSE @]

\* Once the run is over only differences of clock readings ever mattered: forget them.
Normalize(cs) ==
    IF cs.stage = "Done"
    THEN [cs EXCEPT !.clock = 0, !.retryAt = NoVal, !.extendAt = NoVal, !.wakeAt = NoVal]
    ELSE cs

\* Kleppmann's GC pause: right after the grant, or after the validity check and before the
\* write; with no resource, while it holds the lock.
AtPausePoint(cs) ==
    /\ cs.paused = NotPaused
    /\ IF HasResource THEN cs.stage \in {"Granted", "ReadyToWrite"} ELSE cs.stage = "Holding"

ClientDue(cs, t) ==
    CASE t = "Start" -> "whenever"
      [] t = "Work" /\ cs.stage = "Granted" -> "whenever"
      [] t = "Release" /\ cs.stage = "Holding" -> "whenever"
      [] t = "Write" /\ cs.stage = "ReadyToWrite" -> "now"
      [] t = "Deadline" /\ Service = "etcd" -> IF cs.wakeAt # NoVal /\ cs.wakeAt <= cs.clock THEN "now" ELSE "no"
      [] t = "Deadline" /\ Service # "etcd" ->
            IF RoundDeadline(cs.lock) # NoVal /\ RoundDeadline(cs.lock) <= cs.clock THEN "now" ELSE "no"
      [] t = "Retry" -> IF cs.retryAt # NoVal /\ cs.retryAt <= cs.clock THEN "now" ELSE "no"
      [] t = "Extend" -> IF cs.extendAt # NoVal /\ cs.extendAt <= cs.clock THEN "now" ELSE "no"
      [] t = "SendExpire" -> "now"
      [] OTHER -> "no"

Token(e) ==
    CASE Fencing = "off" -> 0
      [] Fencing = "unique" -> e.who + 1          \* antirez's unique value: the client's number
      [] Fencing = "revision" -> LeaseToken(e.st.lease)   \* the key's create revision
      [] OTHER -> LockToken(e.st.lock)           \* counter, zxid, sequencer: from the grant

ReleaseMsg ==
    CASE Encoding \in {"correct", "setnx_then_expire"} -> MRelease
      [] Encoding = "plain_del" -> MDelete
      [] Encoding = "get_then_del" -> MGet

\* The run is over: no timer of it may fire any more.
End(e) == [e EXCEPT !.st.stage = "Done",
                    !.st.timers = @ \ {"Deadline", "Retry", "Work", "Write", "Extend", "Release"}]

FinishWork(e) == SetTimer([e EXCEPT !.st.stage = "Holding"], "Release")

ScheduleExtension(e) ==
    IF Watchdog /\ e.st.extensions < MaxExtensions
    THEN SetTimer([e EXCEPT !.st.extendAt = e.st.clock + Max(TTL \div 3, 1)], "Extend")
    ELSE e

\* Carries out one output of the core.
CarryOut(e, o) ==
    CASE o.kind = "SendAcquire" -> Send(e, o.node, MAcquire(o.round))
      [] o.kind = "SendExtend" -> Send(e, o.node, MExtend(o.round))
      [] o.kind = "SendRelease" -> Send(e, o.node, ReleaseMsg)
      [] o.kind = "WakeAt" -> SetTimer(e, "Deadline")
      [] o.kind = "RetryAfter" -> SetTimer([e EXCEPT !.st.retryAt = e.st.clock + RetryDelay], "Retry")
      [] o.kind = "Failed" -> End(e)
      [] o.kind = "Acquired" ->
            LET e1 == ScheduleExtension([e EXCEPT !.st.extensions = 0])
            IN IF HasResource THEN SetTimer([e1 EXCEPT !.st.stage = "Granted"], "Work")
               ELSE FinishWork(e1)
      [] o.kind = "Extended" -> ScheduleExtension([e EXCEPT !.st.extensions = @ + 1])
      [] o.kind = "ExtendFailed" -> e
      [] o.kind = "Lost" -> End(e)

RECURSIVE CarryOutAll(_, _)
CarryOutAll(e, outs) == IF outs = <<>> THEN e ELSE CarryOutAll(CarryOut(e, Head(outs)), Tail(outs))

\* The one observer (impl/src/sans_io/observe.rs): the events a core step shows, in its order. (The
\* `Setup` event is left out: this judge's server count is a constant.)
OutputEvent(c, o) ==
    CASE o.kind \in {"RetryAfter", "Failed"} -> <<EvC("AcquireFailed", c)>>
      [] o.kind = "Acquired" -> <<EvC("Granted", c)>>
      [] o.kind = "Extended" -> <<EvC("Extended", c)>>
      [] o.kind = "Lost" -> <<EvC("LockLost", c)>>
      [] OTHER -> <<>>

RECURSIVE OutputEvents(_, _)
OutputEvents(c, outs) == IF outs = <<>> THEN <<>> ELSE OutputEvent(c, Head(outs)) \o OutputEvents(c, Tail(outs))

Observe(c, before, in, outs) ==
    (IF in.kind = "Reply" /\ in.reply.kind = "Refused" /\ before.phase = "Extending"
        /\ in.round = before.round.number /\ in.node \in before.round.pending
     THEN <<EvRefused(c, in.node)>> ELSE <<>>)
    \o (IF in.kind = "Release" /\ outs # <<>> THEN <<EvC("ReleaseStarted", c)>> ELSE <<>>)
    \o (IF \E i \in 1 .. Len(outs) : outs[i].kind = "SendAcquire" THEN <<EvC("AcquireStarted", c)>> ELSE <<>>)
    \o OutputEvents(c, outs)

\* Feeds the core one input, records what the observer saw and carries out what the core says.
Feed(e, in) ==
    LET e1 == IF in.kind \in {"Acquire", "Retry"} THEN [e EXCEPT !.st.stage = "Acquiring"] ELSE e
        h == Handle(e1.st.lock, e1.st.clock, in)
        e2 == CarryOutAll([e1 EXCEPT !.st.lock = h.lock, !.ev = @ \o Observe(e.who, e1.st.lock, in, h.outs)], h.outs)
    IN IF RoundDeadline(e2.st.lock) = NoVal THEN CancelTimer(e2, "Deadline") ELSE e2

\* Carries out one output of the lease-lock core (feed_lease in model/src/client.rs).
LeaseCarryOut(e, o) ==
    CASE o.kind = "GrantLease" -> Send(e, TheServer, MGrantLease)
      [] o.kind = "CreateIfAbsent" -> Send(e, TheServer, MCreateIfAbsent(o.lease))
      [] o.kind = "RevokeLease" -> Send(e, TheServer, MRevokeLease(o.lease))
      [] o.kind = "WatchDeletion" -> Send(e, TheServer, MWatchDeletion(o.after))
      [] o.kind = "SendKeepAlive" -> Send(e, TheServer, MKeepAlive(o.lease, o.token))
      [] o.kind = "DeleteKey" -> Send(e, TheServer, MDeleteKey(o.token))
      [] o.kind = "WakeAt" -> SetTimer([e EXCEPT !.st.wakeAt = o.at], "Deadline")
      [] o.kind = "NotAcquired" -> End(e)
      [] OTHER -> CarryOut(e, o)   \* Acquired, Extended, ExtendFailed, Lost: as the Redlock core's

RECURSIVE LeaseCarryOutAll(_, _)
LeaseCarryOutAll(e, outs) ==
    IF outs = <<>> THEN e ELSE LeaseCarryOutAll(LeaseCarryOut(e, Head(outs)), Tail(outs))

\* The one observer (observe_lease in impl/src/sans_io/observe.rs); its store is one node.
LeaseOutputEvent(c, before, o) ==
    CASE o.kind = "CreateIfAbsent" -> <<EvC("AcquireStarted", c)>>
      \* an attempt is a create: it fails when it finds the key taken or the create fails;
      \* giving up while waiting for a deletion or a lease ends no attempt
      [] o.kind = "WatchDeletion" -> <<EvC("AcquireFailed", c)>>
      [] o.kind = "NotAcquired" /\ before.phase.name = "Creating" -> <<EvC("AcquireFailed", c)>>
      [] o.kind = "Acquired" -> <<EvC("Granted", c)>>
      [] o.kind = "Extended" -> <<EvC("Extended", c)>>
      [] o.kind = "Lost" -> <<EvC("LockLost", c)>>
      [] OTHER -> <<>>

RECURSIVE LeaseOutputEvents(_, _, _)
LeaseOutputEvents(c, before, outs) ==
    IF outs = <<>> THEN <<>>
    ELSE LeaseOutputEvent(c, before, Head(outs)) \o LeaseOutputEvents(c, before, Tail(outs))

ObserveLease(c, before, in, outs) ==
    (IF in.kind = "KeptAlive" /\ before.phase.name = "KeepingAlive" /\ ~in.alive
     THEN <<EvRefused(c, TheServer)>> ELSE <<>>)
    \o (IF in.kind = "Release" /\ (before.phase.name \in {"Held", "KeepingAlive", "Lost"} \/ outs # <<>>)
        THEN <<EvC("ReleaseStarted", c)>> ELSE <<>>)
    \o LeaseOutputEvents(c, before, outs)

\* The same for the lease-lock core; the wake-up is forgotten once nothing is held or acquired.
FeedLease(e, in) ==
    LET e1 == IF in.kind = "Acquire" THEN [e EXCEPT !.st.stage = "Acquiring"] ELSE e
        h == LeaseHandle(e1.st.lease, e1.st.clock, in)
        e2 == LeaseCarryOutAll([e1 EXCEPT !.st.lease = h.lease,
                                          !.ev = @ \o ObserveLease(e.who, e1.st.lease, in, h.outs)], h.outs)
    IN IF LeaseHeldUntil(e2.st.lease) = NoVal /\ e2.st.lease.phase.name \notin {"Granting", "Creating", "Waiting"}
       THEN CancelTimer([e2 EXCEPT !.st.wakeAt = NoVal], "Deadline")
       ELSE e2

\* Client e.who's timer t fires, for a client of the etcd-style store: its lease-lock core's.
LeaseTimeout(e, t) ==
    CASE t = "Start" -> FeedLease(e, [kind |-> "Acquire"])
      [] t = "Deadline" -> FeedLease([e EXCEPT !.st.wakeAt = NoVal], [kind |-> "Timeout"])
      [] t = "Extend" -> FeedLease([e EXCEPT !.st.extendAt = NoVal], [kind |-> "KeepAlive"])
      [] t = "Release" -> End(FeedLease([e EXCEPT !.st.extendAt = NoVal], [kind |-> "Release"]))

\* Client e.who's timer t fires (t already removed from its timers).
ClientTimeout(e, t) ==
    IF Service = "etcd" /\ t \in {"Start", "Deadline", "Extend", "Release"} THEN LeaseTimeout(e, t) ELSE
    CASE t = "Start" -> Feed(e, [kind |-> "Acquire"])
      [] t = "Deadline" -> Feed(e, [kind |-> "Timeout"])
      [] t = "Retry" -> Feed([e EXCEPT !.st.retryAt = NoVal], [kind |-> "Retry"])
      [] t = "Extend" -> Feed([e EXCEPT !.st.extendAt = NoVal], [kind |-> "Extend"])
      [] t = "SendExpire" ->
            LET nodes == SelectSeq(ServerSeq, LAMBDA s : s \in e.st.expirePending)
                sends == [i \in 1 .. Len(nodes) |-> <<nodes[i], MExpire>>]
            IN [e EXCEPT !.sends = @ \o sends, !.st.expirePending = {}]
      [] t = "Work" ->
            LET e1 == IF ResourceKind = "unique_token_cas"
                      THEN Send(e, ResourceActor, MClaim(Token(e))) ELSE e
            IN [Send(e1, ResourceActor, MRead(Token(e1))) EXCEPT !.st.stage = "Reading"]
      [] t = "Write" ->
            LET v == (IF e.st.read = NoVal THEN 0 ELSE e.st.read) + 1
            IN [Send(e, ResourceActor, MWrite(v, Token(e))) EXCEPT !.st.stage = "Writing"]
      [] t = "Release" ->
            End(Feed([e EXCEPT !.st.extendAt = NoVal], [kind |-> "Release"]))

\* Client e.who receives m from actor src.
ClientReceive(e, src, m) ==
    CASE m.type = "AcquireReply" ->
            LET e1 == IF Encoding = "setnx_then_expire" /\ m.reply.kind = "Ok"
                         /\ e.st.lock.rounds = m.round
                      THEN SetTimer([e EXCEPT !.st.expirePending = @ \cup {src}], "SendExpire")
                      ELSE e
            IN Feed(e1, [kind |-> "Reply", round |-> m.round, node |-> src, reply |-> m.reply])
      [] m.type = "ExtendReply" ->
            Feed(e, [kind |-> "Reply", round |-> m.round, node |-> src, reply |-> m.reply])
      [] m.type = "GetReply" ->
            \* the second half of GET-then-DEL: the key was ours a moment ago
            IF m.owner = e.who THEN Send(e, src, MDelete) ELSE e
      [] m.type = "LeaseGranted" -> FeedLease(e, [kind |-> "LeaseGranted", lease |-> m.lease])
      [] m.type = "Created" -> FeedLease(e, [kind |-> "Created", revision |-> m.revision])
      [] m.type = "Taken" -> FeedLease(e, [kind |-> "Taken", revision |-> m.revision])
      [] m.type = "TxnFailed" -> FeedLease(e, [kind |-> "Failed"])
      [] m.type = "Freed" -> FeedLease(e, [kind |-> "Freed"])
      [] m.type = "KeptAlive" -> FeedLease(e, [kind |-> "KeptAlive", alive |-> m.alive])
      [] m.type = "ReadReply" /\ e.st.stage = "Reading" ->
            \* the validity check, with a margin for the pause the write may suffer
            LET e1 == [Emit(e, EvValue("ResourceRead", e.who, m.value)) EXCEPT !.st.read = m.value]
            IN IF Remaining(e1.st) > WriteMargin
               THEN SetTimer([e1 EXCEPT !.st.stage = "ReadyToWrite"], "Write")
               ELSE FinishWork(e1)
      [] m.type = "WriteReply" /\ e.st.stage = "Writing" -> FinishWork(e)
      [] OTHER -> e

-----------------------------------------------------------------------------
(* The etcd-style store (model/src/etcd.rs), in server[s].etcd when        *)
(* Service = "etcd" (None otherwise; the Redis fields of its server stay   *)
(* unused): `revision`, which every write raises; the lock `key`, its      *)
(* owner and create revision (NoEtcdKey: none); `leases`, each client's    *)
(* lease (at most one, whose id is the client's number + 1) as the Window  *)
(* of its life by the store's clock, NoWindow for none; `watchers`, the    *)
(* clients watching the key's deletion; `deletedAt`, the revision of its   *)
(* last deletion (a watch from before it fires at once). A client's        *)
(* LeaseExpire timer is set exactly while it has a lease, so the leases    *)
(* stand for those timers.                                                 *)

NoEtcdKey == [owner |-> NoVal, createRevision |-> 0]

EtcdInit ==
    [revision |-> 0, key |-> NoEtcdKey, leases |-> [c \in Clients |-> NoWindow], watchers |-> {},
     deletedAt |-> 0]

LeaseOf(c) == c + 1

\* Deletes the key if `which` holds: by client `by`'s request, or by its lease's expiry (`by` =
\* NoVal). Every watcher hears of it.
EtcdDeleteIf(e, which, by) ==
    IF ~which THEN e
    ELSE LET st == e.st.etcd
             r == st.revision + 1
             w == SeqOf(st.watchers)
             ev == IF by = NoVal THEN EvKey("KeyExpired", e.who, st.key.owner)
                   ELSE EvKeyDeleted(e.who, st.key.owner, by)
             e1 == [Emit(e, ev) EXCEPT !.st.etcd = [st EXCEPT !.key = NoEtcdKey, !.revision = r,
                                                              !.deletedAt = r, !.watchers = {}]]
         IN [e1 EXCEPT !.sends = @ \o [i \in 1 .. Len(w) |-> <<ClientActor(w[i]), MFreed>>]]

\* The store e.who receives m from client c.
EtcdReceive(e, c, m) ==
    LET st == e.st.etcd
        k == st.key
        with(st1) == [e EXCEPT !.st.etcd = st1]
        reply(e1, msg) == Send(e1, ClientActor(c), msg)
    IN CASE m.type = "GrantLease" ->
              reply(with([st EXCEPT !.leases[c] = MkWindow(TTL)]), MLeaseGranted(LeaseOf(c)))
         [] m.type = "CreateIfAbsent" ->
              \* etcd fails the whole transaction when its put names a lease that is gone
              IF st.leases[m.lease - 1] = NoWindow THEN reply(e, MTxnFailed)
              ELSE IF k = NoEtcdKey
              THEN LET r == st.revision + 1
                   IN reply(Emit(with([st EXCEPT !.revision = r, !.key = [owner |-> c, createRevision |-> r]]),
                                 EvKeySet(e.who, c, TRUE)),
                            MCreated(r))
              ELSE reply(e, MTaken(st.revision))
         [] m.type = "WatchDeletion" ->
              \* deleted since the revision the client saw: the watch reports it at once
              IF st.deletedAt > m.after THEN reply(e, MFreed) ELSE with([st EXCEPT !.watchers = @ \cup {c}])
         [] m.type = "KeepAlive" ->
              \* alive only if the lease was renewed and the key is still the one created at `token`
              LET renewed == st.leases[m.lease - 1] # NoWindow
                  ours == k # NoEtcdKey /\ k.createRevision = m.token
              IN reply(with([st EXCEPT !.leases[m.lease - 1] = IF renewed THEN MkWindow(TTL) ELSE @]),
                       MKeptAlive(renewed /\ ours))
         [] m.type = "RevokeLease" ->
              IF st.leases[m.lease - 1] = NoWindow THEN e
              ELSE EtcdDeleteIf(with([st EXCEPT !.leases[m.lease - 1] = NoWindow]),
                                k # NoEtcdKey /\ k.owner = m.lease - 1, c)
         [] m.type = "DeleteKey" -> EtcdDeleteIf(e, k # NoEtcdKey /\ k.createRevision = m.token, c)
         [] OTHER -> e

\* Client c's lease expires by the store's clock; its key dies with it.
EtcdExpire(e, c) ==
    EtcdDeleteIf([e EXCEPT !.st.etcd.leases[c] = NoWindow], e.st.etcd.key.owner = c, NoVal)

-----------------------------------------------------------------------------
(* Lock servers (model/src/server.rs): one key that expires by the         *)
(* server's own clock, a fencing counter, a replication offset (one more   *)
(* per write), replicas, SETs parked until their WAIT is satisfied, and    *)
(* Chubby's lock-delay. Replicas are a sequence; Rust's replica i is       *)
(* element i + 1, and `replicate` holds the 0-based ids of the replicas    *)
(* whose Replicate timer is set.                                           *)

NoKey == [owner |-> NoVal, life |-> NoWindow]     \* a key whose life is NoWindow never expires

Replica0 == [key |-> NoKey, counter |-> 0, offset |-> 0]

ServerInit ==
    [key |-> NoKey, counter |-> 0, offset |-> 0,
     replicas |-> [i \in 1 .. Replicas |-> Replica0],
     waits |-> {},                   \* [client, round, replicas, offset, token]
     lockDelay |-> NoWindow,
     down |-> NoWindow,              \* crashed: restarting once this window is due
     timers |-> {},                  \* "Expire", "LockDelay"
     replicate |-> {},
     etcd |-> IF Service = "etcd" THEN EtcdInit ELSE None]

ServerTimers == {"Expire", "LockDelay"}

IsDown(s) == server[s].down # NoWindow

Expires(k) == k.life # NoWindow

Behind(sv, i) == i + 1 \in DOMAIN sv.replicas /\ sv.replicas[i + 1].offset < sv.offset

ServerDue(sv, t) ==
    CASE t = "Expire" -> IF sv.key # NoKey THEN WindowDue(sv.key.life) ELSE "no"
      [] t = "LockDelay" -> WindowDue(sv.lockDelay)

ServerCountsTime(sv) ==
    \/ Counting(sv.key.life)
    \/ \E i \in DOMAIN sv.replicas : Counting(sv.replicas[i].key.life)
    \/ Counting(sv.lockDelay)
    \/ Counting(sv.down)
    \/ Service = "etcd" /\ \E c \in Clients : Counting(sv.etcd.leases[c])

TickServer(sv) ==
    [sv EXCEPT !.key.life = TickWindow(@),
               !.replicas = [i \in DOMAIN sv.replicas |->
                               [sv.replicas[i] EXCEPT !.key.life = TickWindow(@)]],
               !.lockDelay = TickWindow(@),
               !.down = TickWindow(@),
               !.etcd = IF Service = "etcd"
                        THEN [@ EXCEPT !.leases = [c \in Clients |-> TickWindow(sv.etcd.leases[c])]]
                        ELSE @]

ScheduleReplication(e) ==
    [e EXCEPT !.st.replicate = @ \cup {i \in 0 .. Len(e.st.replicas) - 1 : Behind(e.st, i)}]

\* The parked SET + WAIT with the smallest (client, round): Rust keeps them sorted.
FirstWait(W) == CHOOSE w \in W : \A v \in W : w.client < v.client \/ (w.client = v.client /\ w.round <= v.round)

RECURSIVE WaitOrder(_)
WaitOrder(W) == IF W = {} THEN <<>> ELSE <<FirstWait(W)>> \o WaitOrder(W \ {FirstWait(W)})

RECURSIVE AnswerWaits(_, _)
\* Answers every parked SET + WAIT in W that enough replicas have acknowledged.
AnswerWaits(e, W) ==
    IF W = {} THEN e
    ELSE LET w == FirstWait(W)
             acked == Cardinality({i \in DOMAIN e.st.replicas : e.st.replicas[i].offset >= w.offset})
             e1 == IF acked >= w.replicas
                   THEN Send([e EXCEPT !.st.waits = @ \ {w}], ClientActor(w.client),
                             MAcquireReply(w.round, Ok(w.token)))
                   ELSE e
         IN AnswerWaits(e1, W \ {w})

ServerDelete(e, by) ==
    CancelTimer([Emit(e, EvKeyDeleted(e.who, e.st.key.owner, by))
                   EXCEPT !.st.key = NoKey, !.st.offset = @ + 1], "Expire")

\* Server e.who receives m from client c.
ServerReceive(e, c, m) ==
    IF Service = "etcd" THEN EtcdReceive(e, c, m) ELSE
    LET k == e.st.key
        reply(msg) == Send(e, ClientActor(c), msg)
        e1 ==
          CASE m.type = "Acquire" ->
                 IF k = NoKey /\ e.st.lockDelay = NoWindow
                 THEN LET life == IF Encoding = "setnx_then_expire" THEN NoWindow ELSE MkWindow(TTL)
                          incr == Fencing \in {"counter", "zxid", "sequencer"}
                          e2 == [Emit(e, EvKeySet(e.who, c, life # NoWindow))
                                   EXCEPT !.st.key = [owner |-> c, life |-> life],
                                          !.st.counter = IF incr THEN @ + 1 ELSE @,
                                          !.st.offset = @ + 1]
                          e3 == IF life # NoWindow THEN SetTimer(e2, "Expire") ELSE e2
                          token == IF incr THEN e3.st.counter ELSE 0
                      IN IF WaitReplicas = None
                         THEN Send(e3, ClientActor(c), MAcquireReply(m.round, Ok(token)))
                         ELSE LET w == [client |-> c, round |-> m.round, replicas |-> WaitReplicas,
                                        offset |-> e3.st.offset, token |-> token]
                                  e4 == [e3 EXCEPT !.st.waits = @ \cup {w}]
                              IN AnswerWaits(e4, e4.st.waits)
                 ELSE reply(MAcquireReply(m.round, Refused))
            [] m.type = "Expire" ->
                 \* EXPIRE sets the TTL of whatever key is there: it checks no owner
                 IF k # NoKey
                 THEN SetTimer([Emit(e, EvKeySet(e.who, k.owner, TRUE))
                                  EXCEPT !.st.key.life = MkWindow(TTL), !.st.offset = @ + 1], "Expire")
                 ELSE e
            [] m.type = "Extend" ->
                 IF k # NoKey /\ k.owner = c
                 THEN Send([e EXCEPT !.st.key.life = MkWindow(TTL), !.st.offset = @ + 1],
                           ClientActor(c), MExtendReply(m.round, Ok(0)))
                 ELSE reply(MExtendReply(m.round, Refused))
            [] m.type = "Release" -> IF k # NoKey /\ k.owner = c THEN ServerDelete(e, c) ELSE e
            [] m.type = "Delete" -> IF k # NoKey THEN ServerDelete(e, c) ELSE e
            [] m.type = "Get" -> reply(MGetReply(k.owner))
            [] OTHER -> e
    IN ScheduleReplication(e1)

\* Chubby's CheckSequencer, asked by the resource: is `token` the sequencer of the lock
\* `client` holds right now?
AnswerCheckSequencer(e, src, m) ==
    Send(e, src, MSequencerValid(m.client, e.st.key.owner = m.client /\ e.st.counter = m.token))

ServerTimeout(e, t) ==
    CASE t = "Expire" ->
            ScheduleReplication(
              IF e.st.key # NoKey
              THEN LET e1 == [Emit(e, EvKey("KeyExpired", e.who, e.st.key.owner))
                                EXCEPT !.st.key = NoKey, !.st.offset = @ + 1]
                   \* the holder vanished (its lease or session ran out): Chubby's lock-delay
                   IN IF LockDelay # None
                      THEN SetTimer([e1 EXCEPT !.st.lockDelay = MkWindow(LockDelay)], "LockDelay")
                      ELSE e1
              ELSE e)
      [] t = "LockDelay" -> [e EXCEPT !.st.lockDelay = NoWindow]

ReplicateTo(e, i) ==
    LET e1 == [e EXCEPT !.st.replicas[i + 1] = [key |-> e.st.key, counter |-> e.st.counter,
                                                 offset |-> e.st.offset]]
    IN AnswerWaits(e1, e1.st.waits)

-----------------------------------------------------------------------------
(* The resource (model/src/resource.rs): a counter. The fence is the       *)
(* largest token seen (fenced kinds) or the token last claimed (check-and- *)
(* set); 0 is none. A write that lands as a separate step waits in         *)
(* `pending`: checked (check-then-write, or CheckSequencer once the lock   *)
(* service said yes) until Apply, or being checked by the lock service.    *)

ResourceInit == [value |-> 0, fence |-> 0, pending |-> {}, writers |-> {}]

ApplyWrite(e, p) ==
    [Emit(e, EvValue("WriteApplied", p.client, p.value))
        EXCEPT !.st.value = p.value, !.st.writers = @ \cup {p.client}]

ResourceReceive(e, src, m) ==
    LET st == e.st
        c == ClientOf(src)
    IN CASE m.type = "Claim" -> [e EXCEPT !.st.fence = m.token]
         [] m.type = "Read" ->
              Send([e EXCEPT !.st.fence = IF ResourceKind # "unique_token_cas" /\ m.token >= @
                                          THEN m.token ELSE @],
                   ClientActor(c), MReadReply(st.value))
         [] m.type = "Write" ->
              LET accepted == CASE ResourceKind \in {"unfenced", "check_sequencer"} -> TRUE
                                [] ResourceKind = "unique_token_cas" -> m.token > 0 /\ m.token = st.fence
                                [] OTHER -> m.token >= st.fence
                  p == [client |-> c, value |-> m.value, token |-> m.token, checked |-> TRUE]
              IN IF ~accepted THEN Send(Emit(e, EvC("WriteRejected", c)), ClientActor(c), MWriteReply(FALSE))
                 ELSE IF ResourceKind = "fenced_check_then_write"
                 \* the check passed; the write lands in a later, separate step (Apply)
                 THEN [e EXCEPT !.st.fence = m.token, !.st.pending = @ \cup {p}]
                 ELSE IF ResourceKind = "check_sequencer"
                 \* ask the lock service (server 0) whether the sequencer is still valid
                 THEN Send([e EXCEPT !.st.pending = @ \cup {[p EXCEPT !.checked = FALSE]}],
                           TheServer, MCheckSequencer(c, m.token))
                 ELSE Send(ApplyWrite([e EXCEPT !.st.fence = IF ResourceKind = "fenced" THEN m.token ELSE @], p),
                           ClientActor(c), MWriteReply(TRUE))
         [] m.type = "SequencerValid" ->
              LET waiting == {p \in st.pending : p.client = m.client /\ ~p.checked}
                  p == CHOOSE p \in waiting : TRUE
              IN IF waiting = {} THEN e
                 ELSE IF m.valid
                 THEN [e EXCEPT !.st.pending = (@ \ {p}) \cup {[p EXCEPT !.checked = TRUE]}]
                 ELSE Send([Emit(e, EvC("WriteRejected", m.client)) EXCEPT !.st.pending = @ \ {p}],
                           ClientActor(m.client), MWriteReply(FALSE))
         [] OTHER -> e

\* Clients whose checked write waits to be applied (their Apply timer is set).
Checked == {p.client : p \in {q \in resource.pending : q.checked}}

-----------------------------------------------------------------------------
TypeOK ==
    /\ DOMAIN server = Servers /\ DOMAIN client = Clients
    /\ \A s \in Servers : /\ server[s].timers \subseteq ServerTimers
                          /\ server[s].counter \in Nat /\ server[s].offset \in Nat
                          /\ server[s].replicate \subseteq 0 .. Replicas - 1
                          /\ Len(server[s].replicas) <= Replicas
                          /\ Service = "etcd" => /\ server[s].etcd.revision \in Nat
                                                 /\ server[s].etcd.watchers \subseteq Clients
    /\ \A c \in Clients : /\ client[c].stage \in Stages
                          /\ client[c].timers \subseteq ClientTimers
                          /\ client[c].clock \in Nat
                          /\ client[c].lock.gone \subseteq Servers
                          /\ client[c].lock.phase \in {"Idle", "Acquiring", "Backoff", "Held",
                                                       "Extending", "Released", "Failed", "Lost"}
                          /\ client[c].lease.phase.name \in LeasePhases
    /\ DOMAIN net = Flows
    /\ \A f \in Flows : \A i \in 1 .. Len(net[f]) : net[f][i].age \in Nat
    /\ judge.grants \in 0 .. 2
    /\ judge.known \subseteq Clients
    /\ budget \in [pauses : Nat, jumps : 0 .. 1, crashes : 0 .. 1, failovers : 0 .. 1,
                   clientCrashes : 0 .. 1]

Init ==
    /\ server = [s \in Servers |-> ServerInit]
    /\ client = [c \in Clients |-> ClientInit]
    /\ resource = ResourceInit
    /\ net = [f \in Flows |-> <<>>]
    /\ judge = JudgeInit
    /\ budget = [pauses |-> Pauses,
                 jumps |-> IF ClockJumpBy = None THEN 0 ELSE 1,
                 crashes |-> IF RestartMode = None THEN 0 ELSE 1,
                 failovers |-> IF FailoverFault THEN 1 ELSE 0,
                 clientCrashes |-> IF ClientCrashes THEN 1 ELSE 0]

-----------------------------------------------------------------------------
(* Helpers over the whole state.                                           *)

Paused(a) == IsClient(a) /\ client[ClientOf(a)].paused # NotPaused
Crashed(a) == (IsServer(a) /\ IsDown(a)) \/ (IsClient(a) /\ client[ClientOf(a)].crashed)
\* A client that takes no step now.
Stopped(c) == client[c].crashed \/ client[c].paused # NotPaused

\* Some countdown runs: a tick would change something.
CountingNow ==
    \/ \E s \in Servers : ServerCountsTime(server[s])
    \/ \E c \in Clients : ~client[c].crashed /\ CountsTime(client[c])

\* Clients ready for a quiet step: idle ones may start, paused ones may resume.
QuietReady ==
    {c \in Clients : /\ ~client[c].crashed
                     /\ \/ client[c].paused # NotPaused
                        \/ \E t \in client[c].timers \cap QuietTimers : ClientDue(client[c], t) # "no"}

\* Paused clients whose pause bound runs out with the next tick.
PauseEnding == {c \in Clients : client[c].paused \in Nat /\ client[c].paused <= 1}

UrgentTimer ==
    \/ \E s \in Servers : /\ ~IsDown(s)
                          /\ \/ \E t \in server[s].timers : ServerDue(server[s], t) = "now"
                             \/ \E i \in server[s].replicate : Behind(server[s], i) /\ DelayDue = "now"
    \/ Service = "etcd" /\ \E s \in Servers, c \in Clients :
                            ~IsDown(s) /\ WindowDue(server[s].etcd.leases[c]) = "now"
    \/ \E c \in Clients : ~Stopped(c) /\ \E t \in client[c].timers : ClientDue(client[c], t) = "now"
    \/ Checked # {} /\ DelayDue = "now"

\* A message to a running actor has waited as long as the delay bound allows.
MessageDue ==
    Delay # None /\ \E f \in Flows : net[f] # <<>> /\ ~Paused(f[2]) /\ Head(net[f]).age >= Delay

\* Real time may pass: some countdown runs or a client is ready for a quiet step, and
\* nothing is due that must come first.
TimeMayPass == (CountingNow \/ QuietReady # {}) /\ ~UrgentTimer /\ ~MessageDue

\* Commits one actor's effect: its new state, its messages, the judge's verdict.
CommitServer(e, net1) ==
    /\ server' = [server EXCEPT ![e.who] = e.st]
    /\ net' = AddSends(net1, e.who, e.sends)
    /\ judge' = Judge(judge, e.ev)
    /\ UNCHANGED <<client, resource, budget>>

CommitClient(e, net1) ==
    /\ client' = [client EXCEPT ![e.who] = Normalize(e.st)]
    /\ net' = AddSends(net1, ClientActor(e.who), e.sends)
    /\ judge' = Judge(judge, e.ev)
    /\ UNCHANGED <<server, resource, budget>>

CommitResource(e, net1) ==
    /\ resource' = e.st
    /\ net' = AddSends(net1, ResourceActor, e.sends)
    /\ judge' = Judge(judge, e.ev)
    /\ UNCHANGED <<server, client, budget>>

-----------------------------------------------------------------------------
(* Deliveries. The message at the head of a flow arrives (not at a paused  *)
(* client: it waits in its socket buffer). At a crashed actor the          *)
(* connection is refused (Refuse).                                         *)

Deliverable(f) == net[f] # <<>> /\ ~Paused(f[2])

Deliver(src, dst) ==
    LET f == <<src, dst>>
        m == Head(net[f]).msg
        net1 == [net EXCEPT ![f] = Tail(@)]
    IN /\ ~Paused(dst)
       /\ ~Crashed(dst)
       /\ CASE IsServer(dst) /\ m.type = "CheckSequencer" ->
                 CommitServer(AnswerCheckSequencer(Effect(dst, server[dst]), src, m), net1)
            [] IsServer(dst) -> CommitServer(ServerReceive(Effect(dst, server[dst]), ClientOf(src), m), net1)
            [] IsClient(dst) -> CommitClient(ClientReceive(Effect(ClientOf(dst), client[ClientOf(dst)]), src, m), net1)
            [] OTHER -> CommitResource(ResourceReceive(Effect(ResourceActor, resource), src, m), net1)

\* The message at the head of flow <<src, dst>> is of type `type`.
Arrives(src, dst, type) == net[<<src, dst>>] # <<>> /\ Head(net[<<src, dst>>]).msg.type = type

\* Lock server s receives a request from client c.
Acquire(c, s) ==          \* SET key c NX PX ttl (or SETNX)
    /\ Arrives(ClientActor(c), s, "Acquire") /\ Deliver(ClientActor(c), s)
ExpireCommand(c, s) ==    \* EXPIRE key ttl
    /\ Arrives(ClientActor(c), s, "Expire") /\ Deliver(ClientActor(c), s)
Extend(c, s) ==           \* compare-and-pexpire
    /\ Arrives(ClientActor(c), s, "Extend") /\ Deliver(ClientActor(c), s)
Release(c, s) ==          \* compare-and-delete
    /\ Arrives(ClientActor(c), s, "Release") /\ Deliver(ClientActor(c), s)
Delete(c, s) ==           \* plain DEL
    /\ Arrives(ClientActor(c), s, "Delete") /\ Deliver(ClientActor(c), s)
Get(c, s) ==
    /\ Arrives(ClientActor(c), s, "Get") /\ Deliver(ClientActor(c), s)
\* The etcd-style store receives a client's request.
GrantLease(c, s) == /\ Arrives(ClientActor(c), s, "GrantLease") /\ Deliver(ClientActor(c), s)
CreateIfAbsent(c, s) == /\ Arrives(ClientActor(c), s, "CreateIfAbsent") /\ Deliver(ClientActor(c), s)
WatchDeletion(c, s) == /\ Arrives(ClientActor(c), s, "WatchDeletion") /\ Deliver(ClientActor(c), s)
KeepAlive(c, s) == /\ Arrives(ClientActor(c), s, "KeepAlive") /\ Deliver(ClientActor(c), s)
RevokeLease(c, s) == /\ Arrives(ClientActor(c), s, "RevokeLease") /\ Deliver(ClientActor(c), s)
DeleteKey(c, s) == /\ Arrives(ClientActor(c), s, "DeleteKey") /\ Deliver(ClientActor(c), s)
\* Client c receives a lock server's reply.
AcquireReply(s, c) == /\ Arrives(s, ClientActor(c), "AcquireReply") /\ Deliver(s, ClientActor(c))
ExtendReply(s, c) == /\ Arrives(s, ClientActor(c), "ExtendReply") /\ Deliver(s, ClientActor(c))
GetReply(s, c) == /\ Arrives(s, ClientActor(c), "GetReply") /\ Deliver(s, ClientActor(c))
\* Client c receives the etcd-style store's answer.
LeaseGranted(s, c) == /\ Arrives(s, ClientActor(c), "LeaseGranted") /\ Deliver(s, ClientActor(c))
Created(s, c) == /\ Arrives(s, ClientActor(c), "Created") /\ Deliver(s, ClientActor(c))
Taken(s, c) == /\ Arrives(s, ClientActor(c), "Taken") /\ Deliver(s, ClientActor(c))
TxnFailed(s, c) == /\ Arrives(s, ClientActor(c), "TxnFailed") /\ Deliver(s, ClientActor(c))
Freed(s, c) == /\ Arrives(s, ClientActor(c), "Freed") /\ Deliver(s, ClientActor(c))
KeptAlive(s, c) == /\ Arrives(s, ClientActor(c), "KeptAlive") /\ Deliver(s, ClientActor(c))
\* The resource receives a client's request, and the client its reply.
Claim(c) == /\ HasResource /\ Arrives(ClientActor(c), ResourceActor, "Claim")
            /\ Deliver(ClientActor(c), ResourceActor)
Read(c) == /\ HasResource /\ Arrives(ClientActor(c), ResourceActor, "Read")
           /\ Deliver(ClientActor(c), ResourceActor)
Write(c) == /\ HasResource /\ Arrives(ClientActor(c), ResourceActor, "Write")
            /\ Deliver(ClientActor(c), ResourceActor)
ReadReply(c) == /\ HasResource /\ Arrives(ResourceActor, ClientActor(c), "ReadReply")
                /\ Deliver(ResourceActor, ClientActor(c))
WriteReply(c) == /\ HasResource /\ Arrives(ResourceActor, ClientActor(c), "WriteReply")
                 /\ Deliver(ResourceActor, ClientActor(c))
\* Chubby's CheckSequencer: the resource asks the lock service, which answers.
CheckSequencer == /\ ResourceKind = "check_sequencer" /\ Arrives(ResourceActor, TheServer, "CheckSequencer")
                  /\ Deliver(ResourceActor, TheServer)
SequencerValid == /\ ResourceKind = "check_sequencer" /\ Arrives(TheServer, ResourceActor, "SequencerValid")
                  /\ Deliver(TheServer, ResourceActor)

\* The errors a dead connection's requests get (Acquire and Extend expect a reply).
ErrorFor(m) ==
    CASE m.type = "Acquire" -> <<InFlight(MAcquireReply(m.round, ErrorReply))>>
      [] m.type = "Extend" -> <<InFlight(MExtendReply(m.round, ErrorReply))>>
      [] OTHER -> <<>>

RECURSIVE ErrorReplies(_)
ErrorReplies(q) == IF q = <<>> THEN <<>> ELSE ErrorFor(Head(q).msg) \o ErrorReplies(Tail(q))

\* A message reaches a crashed server (or a crashed client): the connection is refused, so a
\* request that expects a reply gets an error at once.
Refuse(src, dst) ==
    LET f == <<src, dst>>
        m == Head(net[f]).msg
    IN /\ Deliverable(f)
       /\ Crashed(dst)
       /\ net' = [net EXCEPT ![f] = Tail(@), ![<<dst, src>>] = @ \o ErrorFor(m)]
       /\ UNCHANGED <<server, client, resource, judge, budget>>

\* Every connection to server s breaks: requests on their way to it fail now.
BreakConnections(n, s) ==
    [f \in Flows |-> IF f[2] = s THEN <<>>
                     ELSE IF f[1] = s THEN n[f] \o ErrorReplies(n[<<f[2], s>>])
                     ELSE n[f]]

-----------------------------------------------------------------------------
(* An actor's own steps (the Rust model's timers), each only when the      *)
(* actor's clock says it is due.                                           *)

\* Client c's timer t may fire now (not a quiet step).
ClientMay(c, t) ==
    /\ ~Stopped(c)
    /\ t \in client[c].timers
    /\ ClientDue(client[c], t) # "no"

ClientFires(c, t) == CommitClient(ClientTimeout(Effect(c, [client[c] EXCEPT !.timers = @ \ {t}]), t), net)

Deadline(c) ==          \* the round's per-node timeout has passed
    /\ ClientMay(c, "Deadline") /\ ClientFires(c, "Deadline")
Retry(c) ==             \* the retry delay has passed
    /\ ClientMay(c, "Retry") /\ ClientFires(c, "Retry")
Work(c) ==              \* the holder begins its work: (claim and) read
    /\ ClientMay(c, "Work") /\ ClientFires(c, "Work")
SendWrite(c) ==         \* the validity check passed: write
    /\ ClientMay(c, "Write") /\ ClientFires(c, "Write")
SendRelease(c) ==       \* the holder is done: it releases everywhere
    /\ ClientMay(c, "Release") /\ ClientFires(c, "Release")
SendExpire(c) ==        \* EXPIRE after SETNX succeeded
    /\ ClientMay(c, "SendExpire") /\ ClientFires(c, "SendExpire")
WatchdogExtend(c) ==    \* the watchdog extends the held lock
    /\ ClientMay(c, "Extend") /\ ClientFires(c, "Extend")

ServerMay(s, t) ==
    /\ ~IsDown(s)
    /\ t \in server[s].timers
    /\ ServerDue(server[s], t) # "no"

ServerFires(s, t) == CommitServer(ServerTimeout(Effect(s, [server[s] EXCEPT !.timers = @ \ {t}]), t), net)

Expire(s) ==            \* the key expires by the server's own clock
    /\ ServerMay(s, "Expire") /\ ServerFires(s, "Expire")
LockDelayEnds(s) ==     \* Chubby's lock-delay is over
    /\ ServerMay(s, "LockDelay") /\ ServerFires(s, "LockDelay")
LeaseExpire(s, c) ==    \* client c's lease expires by the etcd-style store's clock
    /\ Service = "etcd"
    /\ ~IsDown(s)
    /\ WindowDue(server[s].etcd.leases[c]) # "no"
    /\ CommitServer(EtcdExpire(Effect(s, server[s]), c), net)

\* Replica i of server s catches up (part of the message delay).
Replicate(s, i) ==
    /\ ~IsDown(s)
    /\ i \in server[s].replicate
    /\ Behind(server[s], i)
    /\ CommitServer(ReplicateTo(Effect(s, [server[s] EXCEPT !.replicate = @ \ {i}]), i), net)

\* The resource applies client c's checked write.
Apply(c) ==
    /\ c \in Checked
    /\ LET p == CHOOSE p \in resource.pending : p.client = c /\ p.checked
           e == ApplyWrite(Effect(ResourceActor, [resource EXCEPT !.pending = @ \ {p}]), p)
       IN CommitResource(Send(e, ClientActor(c), MWriteReply(TRUE)), net)

-----------------------------------------------------------------------------
(* Time. One tick of real time lowers every countdown, ages the messages   *)
(* in flight to running actors and advances every waiting client's clock;  *)
(* then each client in `then` takes its quiet step: its first step        *)
(* (start acquiring) or its return from a pause. Both are enabled from the *)
(* beginning of a tick on and commute with everything else in the tick, so *)
(* taking them with the tick loses no behaviour the judge can see (see     *)
(* model/src/system.rs).                                                   *)

QuietStep(c, cs) ==
    IF cs.paused # NotPaused
    THEN Effect(c, [cs EXCEPT !.paused = NotPaused])
    ELSE LET t == CHOOSE t \in cs.timers \cap QuietTimers : TRUE
         IN ClientTimeout(Effect(c, [cs EXCEPT !.timers = @ \ {t}]), t)

RECURSIVE AddAllSends(_, _)
AddAllSends(n, effects) ==
    IF effects = <<>> THEN n
    ELSE AddAllSends(AddSends(n, ClientActor(Head(effects).who), Head(effects).sends), Tail(effects))

\* Messages to running actors wait one more tick (counted only under a delay bound above 0).
AgedNet ==
    IF Delay \in Nat \ {0}
    THEN [f \in Flows |-> IF Paused(f[2]) THEN net[f]
                          ELSE [i \in 1 .. Len(net[f]) |-> [net[f][i] EXCEPT !.age = @ + 1]]]
    ELSE net

Tick ==
    /\ TimeMayPass
    /\ \E then \in SUBSET QuietReady :
         /\ PauseEnding \subseteq then
         /\ then # {} \/ CountingNow          \* a tick that changes nothing is no step
         /\ LET ticked == [c \in Clients |-> TickClient(client[c])]
                \* holders whose validity ran out on their own clocks
                ended == SelectSeq(SeqOf(Clients),
                                   LAMBDA c : /\ ClientHeldUntil(ticked[c]) # NoVal
                                              /\ ClientHeldUntil(ticked[c]) <= ticked[c].clock
                                              /\ judge.holding[c])
                order == SeqOf(then)
                quiet == [i \in 1 .. Len(order) |-> QuietStep(order[i], ticked[order[i]])]
                after == [c \in Clients |-> IF c \in then
                                            THEN quiet[CHOOSE i \in 1 .. Len(order) : order[i] = c].st
                                            ELSE ticked[c]]
                events == [i \in 1 .. Len(ended) |-> EvC("ValidityEnded", ended[i])]
                          \o Concat([i \in 1 .. Len(quiet) |-> quiet[i].ev])
            IN /\ server' = [s \in Servers |-> TickServer(server[s])]
               /\ client' = [c \in Clients |-> Normalize(after[c])]
               /\ net' = AddAllSends(AgedNet, quiet)
               /\ judge' = Judge(judge, events)
               /\ UNCHANGED <<resource, budget>>

-----------------------------------------------------------------------------
(* Faults.                                                                 *)

\* A client stops taking steps (a GC pause) at a pause point.
Pause(c) ==
    /\ ~client[c].crashed
    /\ budget.pauses > 0
    /\ PauseBound # 0
    /\ AtPausePoint(client[c])
    /\ client' = [client EXCEPT ![c].paused = IF PauseBound = None THEN Unbounded ELSE PauseBound]
    /\ budget' = [budget EXCEPT !.pauses = @ - 1]
    /\ UNCHANGED <<server, resource, net, judge>>

\* A client process dies (between SETNX and EXPIRE): messages to it are lost.
ClientCrash(c) ==
    /\ ClientCrashes
    /\ budget.clientCrashes > 0
    /\ ~client[c].crashed
    /\ client[c].expirePending # {}
    /\ client' = [client EXCEPT ![c].crashed = TRUE, ![c].timers = {}]
    /\ net' = [f \in Flows |-> IF f[2] = ClientActor(c) THEN <<>> ELSE net[f]]
    /\ budget' = [budget EXCEPT !.clientCrashes = @ - 1]
    /\ judge' = Judge(judge, <<EvC("ClientCrashed", c)>>)
    /\ UNCHANGED <<server, resource>>

\* A server's clock jumps forward: its key (and lock-delay, or the leases) end sooner.
ClockJump(s) ==
    /\ ClockJumpBy # None
    /\ budget.jumps > 0
    /\ ~IsDown(s)
    /\ server' = [server EXCEPT ![s].key.life = JumpWindow(@, ClockJumpBy, Timing = "sync"),
                                ![s].lockDelay = JumpWindow(@, ClockJumpBy, Timing = "sync"),
                                ![s].etcd = IF Service = "etcd"
                                            THEN [@ EXCEPT !.leases = [c \in Clients |->
                                                    JumpWindow(server[s].etcd.leases[c], ClockJumpBy, Timing = "sync")]]
                                            ELSE @]
    /\ budget' = [budget EXCEPT !.jumps = @ - 1]
    /\ UNCHANGED <<client, resource, net, judge>>

\* A server crashes: every connection to it breaks.
Crash(s) ==
    /\ RestartMode # None
    /\ budget.crashes > 0
    /\ ~IsDown(s)
    /\ server' = [server EXCEPT ![s].timers = {}, ![s].replicate = {},
                                ![s].down = IF RestartMode = "delayed" THEN MkWindow(TTL)
                                            ELSE [earliest |-> 0, latest |-> NoVal]]
    /\ net' = BreakConnections(net, s)
    /\ budget' = [budget EXCEPT !.crashes = @ - 1]
    /\ judge' = Judge(judge, <<EvNode("NodeDown", s)>>)
    /\ UNCHANGED <<client, resource>>

\* The server comes back: with everything it had (fsync), or empty (no fsync; antirez's
\* delayed restart waits a TTL of its own clock first).
Restart(s) ==
    /\ IsDown(s)
    /\ Due(server[s].down)
    /\ LET old == server[s]
           new == IF RestartMode = "fsync" THEN [old EXCEPT !.down = NoWindow] ELSE ServerInit
           lost == IF RestartMode = "fsync" THEN NoKey ELSE old.key
       IN /\ server' = [server EXCEPT ![s] = [new EXCEPT !.timers =
                          IF new.key # NoKey /\ Expires(new.key) THEN {"Expire"} ELSE {}]]
          /\ judge' = Judge(judge, (IF lost # NoKey THEN <<EvKey("KeyLost", s, lost.owner)>> ELSE <<>>)
                                   \o <<EvNode("NodeUp", s)>>)
    /\ UNCHANGED <<client, resource, net, budget>>

\* Replica r of server s is promoted: the primary's unreplicated writes are lost, the other
\* replicas resynchronise from the new primary, and the old primary's connections break
\* (parked SET + WAITs fail with them).
Failover(s, r) ==
    /\ FailoverFault
    /\ budget.failovers > 0
    /\ ~IsDown(s)
    /\ r + 1 \in DOMAIN server[s].replicas
    /\ LET old == server[s]
           p == old.replicas[r + 1]
           lost == IF old.key # NoKey /\ ~(p.key # NoKey /\ p.key.owner = old.key.owner) THEN old.key ELSE NoKey
           waits == WaitOrder(old.waits)
           broken == BreakConnections(net, s)
       IN /\ server' = [server EXCEPT ![s] =
                          [key |-> p.key, counter |-> p.counter, offset |-> p.offset,
                           replicas |-> [i \in 1 .. Len(old.replicas) - 1 |-> p],
                           waits |-> {}, lockDelay |-> NoWindow, down |-> NoWindow,
                           timers |-> IF p.key # NoKey /\ Expires(p.key) THEN {"Expire"} ELSE {},
                           replicate |-> {}, etcd |-> None]]
          /\ net' = AddSends(broken, s, [i \in 1 .. Len(waits) |->
                               <<ClientActor(waits[i].client), MAcquireReply(waits[i].round, ErrorReply)>>])
          /\ judge' = Judge(judge, IF lost # NoKey THEN <<EvKey("KeyLost", s, lost.owner)>> ELSE <<>>)
    /\ budget' = [budget EXCEPT !.failovers = @ - 1]
    /\ UNCHANGED <<client, resource>>

-----------------------------------------------------------------------------
Next ==
    \/ \E c \in Clients, s \in Servers :
          \* (the test only spares TLC the other service's deliveries, which are never enabled)
          IF Service = "etcd"
          THEN \/ GrantLease(c, s) \/ CreateIfAbsent(c, s) \/ WatchDeletion(c, s) \/ KeepAlive(c, s)
               \/ RevokeLease(c, s) \/ DeleteKey(c, s)
               \/ LeaseGranted(s, c) \/ Created(s, c) \/ Taken(s, c) \/ TxnFailed(s, c) \/ Freed(s, c)
               \/ KeptAlive(s, c)
               \/ LeaseExpire(s, c)
          ELSE \/ Acquire(c, s) \/ ExpireCommand(c, s) \/ Extend(c, s) \/ Release(c, s)
               \/ Delete(c, s) \/ Get(c, s)
               \/ AcquireReply(s, c) \/ ExtendReply(s, c) \/ GetReply(s, c)
    \/ \E c \in Clients :
          \/ Claim(c) \/ Read(c) \/ Write(c) \/ ReadReply(c) \/ WriteReply(c) \/ Apply(c)
          \/ Deadline(c) \/ Retry(c) \/ Work(c) \/ SendWrite(c) \/ SendRelease(c)
          \/ SendExpire(c) \/ WatchdogExtend(c)
          \/ Pause(c) \/ ClientCrash(c)
    \/ CheckSequencer \/ SequencerValid
    \/ \E s \in Servers :
          \/ Expire(s) \/ LockDelayEnds(s) \/ ClockJump(s) \/ Crash(s) \/ Restart(s)
          \/ \E i \in 0 .. Replicas - 1 : Replicate(s, i) \/ Failover(s, i)
    \/ \E f \in Flows : Refuse(f[1], f[2])
    \/ Tick

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* The invariants of the debate (impl/src/sans_io/judge.rs), each read     *)
(* from the judge's verdict.                                               *)

\* At no instant of real time do two clients each believe they hold an unexpired lock.
MutualExclusion == ~Violated(judge, "MutualExclusion")
\* A release never removes a key written by another client.
OwnerOnlyRelease == ~Violated(judge, "OwnerOnlyRelease")
\* Once the resource applied a write from a newer holder, it never applies one from an older.
OrderedFencedWrites == ~Violated(judge, "OrderedFencedWrites")
\* Read-modify-write increments on the resource are never lost.
NoLostUpdate == ~Violated(judge, "NoLostUpdate")
\* Once nobody holds or acquires and every expiring key is gone, a majority is free.
EventuallyAcquirable == ~Violated(judge, "EventuallyAcquirable")
\* A holder that a majority refused reports the loss before its next step.
LostLockReported == ~Violated(judge, "LostLockReported")

=============================================================================
