"""The production model on SimPy: stages of robots and machines, places, buffers, inspection and conveyors.

The cell's plan is read as stages (:mod:`twin.sim.plan`, :meth:`twin.cell.spec.CellSpec.stage_runs`): runs
of one robot's operations, and machine or manual stations' processes. The sample cell: R1 loads the
fixture; R2 screws, carries the unit to inspection, waits there and puts it on the outfeed belt. The
hinge-press cell: the UR10 loads the press, the press presses, the UR10 unloads it, waits at the camera
and puts the hinge on the chute.

- **Orders**: batch-size-one custom orders; the variant is drawn from the mix when the unit is released
  (when a machine starts making its part, or when its first stage starts), and so is whether inspection
  samples the unit.
- **Parts made ahead of the flow** (one SimPy process for a bank of ``count`` machines): a machine starts a
  job only inside a working window, sets up (``setup_time_s``), runs, and holds the finished part while the
  declared buffer towards the robot that picks it (:class:`Buffer`) is full (blocking after service). A
  bank fault stops every machine for the repair.
- **Places** (:class:`Slots`): a stage that puts the unit at a fixture, machine or manual station takes a
  place there before it starts (so a robot never waits holding a unit), and the place frees when a robot
  carries the unit away. With two nests R1 loads the next unit while R2 screws.
- **Robots** (one SimPy process each): a robot serves its stages, the latest in the plan first (unload
  before load). A robot with one stage waits for its place and then its unit; one with several waits until
  any of them can start. A unit handed to the next robot waits in an unbounded :class:`Buffer` (it stays in
  its place). A machine's process starts when the unit is put in and hands it on when done. Inspection runs
  inside the stage of the robot that waits for it; a conveyor's places are each held for the conveying
  time. A cycle starts inside a working window when at least half of it fits; the unit in hand is finished.
- Buffers and places are SimPy events under a thin FIFO (``simpy.Store`` semantics): a process yields only
  when it has to wait, which keeps a year of the sample's production at three SimPy events per unit. A
  place release is a time: a waiting robot is scheduled for it, a later taker finds it passed.
- **Faults**: each robot and station with an MTBF fails after exponential operating time and stands for a
  log-normal repair (mean MTTR) inside the operation it failed in.
- **Quality**: the characteristic measured per repetition (a torque per screw) is out of its limits with a
  probability from its mean (drifting with tool wear since the tool's last service), its spread and the
  limits; the inspection station's characteristics likewise. A failed unit is reworked off-line
  (``rework_share_of_failed``) or scrapped. The repeated measurement is taken on every unit, so its defect
  is known whether inspection samples the unit or not; an inspection defect in a unit that inspection did
  not sample leaves the cell undetected (an escape).

Randomness: one seed sequence per replication, from which a named stream per purpose is spawned (orders,
making parts, each robot's jitter, each resource's faults, quality), so two scenarios run with the same
seed see the same orders and the same failure clocks wherever they share a resource (common random
numbers). SimPy breaks ties between equal-time events by insertion order, so a run repeats exactly.
"""

from __future__ import annotations

import heapq
import math
import zlib
from bisect import bisect_right
from collections import deque
from itertools import accumulate
from typing import Any

import numpy as np
import simpy

from twin.sim.plan import (
    BIN_S,
    CONVEY,
    INSPECT,
    PROCESS,
    RELEASE,
    REPAIR_SIGMA,
    SCREWED,
    WORK,
    SimInputs,
)
from twin.sim.record import (
    ESCAPED,
    GOOD,
    IN_PROCESS,
    INSPECTION_DEFECT,
    NO_DEFECT,
    REWORKED,
    SCRAPPED,
    SCREW_DEFECT,
    ReplicationRecord,
)

MAINTENANCE_S = 600.0  # screwdriver bit change, done before the next working window (as the generator does)
ROBOT_JITTER = 0.003  # relative spread of a robot cycle's duration
STATION_JITTER = 0.02  # relative spread of a station's process time
PRINT_JITTER = 0.01  # relative spread of a print job
BATCH = 1024
OWN_TAIL = -1  # step kind of a stage's last stretch of the robot's own work


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: the same for a (seed, replication) pair whatever N is."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


class Draws:
    """A named random stream spawned from the replication's seed sequence, drawn in batches."""

    __slots__ = ("rng", "_u", "_n")

    def __init__(self, parent: np.random.SeedSequence, name: str) -> None:
        """Spawn the stream ``name`` (stable across scenarios: keyed by the name's CRC-32)."""
        child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, zlib.crc32(name.encode())))
        self.rng = np.random.default_rng(child)
        self._u: list[float] = []
        self._n: list[float] = []

    def uniform(self) -> float:
        """One U[0, 1) draw."""
        if not self._u:
            self._u.extend(self.rng.random(BATCH).tolist())
        return self._u.pop()

    def normal(self) -> float:
        """One N(0, 1) draw."""
        if not self._n:
            self._n.extend(self.rng.standard_normal(BATCH).tolist())
        return self._n.pop()

    def normals(self) -> list[float]:
        """The buffer :meth:`normal` pops from, refilled in place.

        A hot loop pops it directly while it is not empty and calls :meth:`normal` otherwise: the same draws.
        """
        return self._n

    def uniforms(self) -> list[float]:
        """The buffer :meth:`uniform` pops from, like :meth:`normals`."""
        return self._u

    def exponential(self, mean: float) -> float:
        """One exponential draw with the given mean."""
        return -mean * math.log(1.0 - self.uniform())


class Buffer:
    """A FIFO buffer between two processes on SimPy events.

    ``simpy.Store`` semantics without its per-call event objects: a process yields an event only when it
    must wait, so an item that is already there costs no scheduler round trip. Puts beyond ``capacity``
    block the putter.
    """

    __slots__ = ("env", "capacity", "items", "getters", "putters")

    def __init__(self, env: simpy.Environment, capacity: float = math.inf) -> None:
        """An empty buffer holding at most ``capacity`` items."""
        self.env = env
        self.capacity = capacity
        self.items: deque[int] = deque()
        self.getters: deque[simpy.Event] = deque()
        self.putters: deque[tuple[simpy.Event, int]] = deque()

    def put(self, item: int) -> simpy.Event | None:
        """Hand ``item`` to a waiting getter or store it; an event to yield when the buffer is full."""
        if self.getters:
            self.getters.popleft().succeed(item)
            return None
        if len(self.items) < self.capacity:
            self.items.append(item)
            return None
        event = self.env.event()
        self.putters.append((event, item))
        return event

    def take(self) -> int | None:
        """The oldest item, or None when empty (then yield :meth:`wait`)."""
        if not self.items:
            return None
        item = self.items.popleft()
        if self.putters:
            event, waiting = self.putters.popleft()
            self.items.append(waiting)
            event.succeed()
        return item

    def wait(self) -> simpy.Event:
        """An event that fires with the next item put."""
        event = self.env.event()
        self.getters.append(event)
        return event


class Slots:
    """Identical places (fixture nests) on SimPy events.

    A place is free now, frees at a time already known (the stage that takes the unit out schedules its
    release), or the taker waits for the next release. Known releases are kept as times, so a release
    costs a SimPy event only when a taker has to wait for it.
    """

    __slots__ = ("env", "free", "waiters", "releases", "on_release")

    def __init__(self, env: simpy.Environment, count: int) -> None:
        """``count`` free places."""
        self.env = env
        self.free = count
        self.waiters: deque[simpy.Event] = deque()
        self.releases: list[float] = []  # heap of the times places free up, not yet taken
        self.on_release: Any = None  # called with the delay of every release that no waiter takes

    def acquire(self) -> simpy.Event | None:
        """Take a place now (None) or get the event that hands one over."""
        if self.free > 0:
            self.free -= 1
            return None
        if self.releases:
            at = heapq.heappop(self.releases)
            now = self.env.now
            return None if at <= now else self.env.timeout(at - now)
        event = self.env.event()
        self.waiters.append(event)
        return event

    def release_in(self, delay: float) -> None:
        """Free a place ``delay`` seconds from now: the longest waiter (or the next taker) gets it."""
        if self.waiters:
            waiter = self.waiters.popleft()
            # Event.succeed with a delay: one scheduled event instead of a timeout that succeeds the waiter
            waiter._ok, waiter._value = True, None
            self.env.schedule(waiter, delay=max(delay, 0.0))
            return
        if delay <= 0.0:
            self.free += 1
        else:
            heapq.heappush(self.releases, self.env.now + delay)
        if self.on_release is not None:
            self.on_release(max(delay, 0.0))

    def free_at(self) -> float:
        """When a place is free for a taker that does not queue: now, a known release time, or never (inf)."""
        if self.free > 0:
            return self.env.now
        return self.releases[0] if self.releases else math.inf


class ProductionModel:
    """One replication of the cell's production over the scenario's horizon."""

    def __init__(self, inputs: SimInputs, seed: int, replication: int) -> None:
        """Build the SimPy environment, buffers and random streams.

        Args:
            inputs: The scenario's simulation inputs.
            seed: The scenario seed.
            replication: Replication index (0-based); with ``seed`` it fixes every random draw.
        """
        self.inputs = inputs
        self.seed, self.replication = seed, replication
        self.cal = inputs.calendar
        self.env = simpy.Environment()
        env = self.env
        shapes = inputs.shapes
        self.brackets = Buffer(env, max(inputs.made_parts_capacity, 1))
        self._heap: list[tuple[float, int, int]] = []  # (completion, printer, unit) of the jobs printing
        self._bank_blocked: tuple[int, int] | None = None  # (printer, unit) holding a bracket, buffer full
        self._bank_wait: simpy.Event | None = None
        entered = {shape.enters for shape in shapes if shape.enters is not None}
        self.places = {sid: Slots(env, n) for sid, n in inputs.places.items() if sid in entered}
        self.spots = {sid: [0.0] * n for sid, n in inputs.places.items() if sid not in entered}
        self.handoff = [Buffer(env) for _ in shapes]
        self.robots = list(dict.fromkeys(shape.owner for shape in shapes if not shape.process))
        self.robot_stages = {r: [k for k, shape in enumerate(shapes) if shape.owner == r] for r in self.robots}
        self._wake: dict[str, simpy.Event | None] = dict.fromkeys(self.robots)
        for sid, slots in self.places.items():  # a robot serving several stages is woken when a place frees
            waiting = [r for r in self.robots if len(self.robot_stages[r]) > 1]
            waiting = [r for r in waiting if any(shapes[k].enters == sid for k in self.robot_stages[r])]
            if waiting:
                slots.on_release = lambda delay, robots=tuple(waiting): self._notify_in(robots, delay)
        root = replication_seed(seed, replication)
        self.orders = Draws(root, "orders")
        self.printing = Draws(root, "printing")
        self.quality = Draws(root, "quality")
        self.station_jitter = Draws(root, "stations")
        self.jitter = {r: Draws(root, f"jitter:{r}") for r in dict.fromkeys(s.owner for s in shapes)}
        self.fault_draws = {r: Draws(root, f"fault:{r}") for r in inputs.faults}
        self.clock = {r: self.fault_draws[r].exponential(f.mtbf_s) for r, f in inputs.faults.items()}
        self.mix = list(accumulate(v.share for v in inputs.variants))
        self.mix[-1] = 1.0 + 1e-12
        self.n_bins = inputs.n_bins
        self.energy = {m: [0.0] * self.n_bins for m in inputs.meters}
        self.faults: list[tuple[str, float, float]] = []
        self.fault_units: list[int] = []  # the unit in work when each fault struck (-1: none)
        self.setups: list[tuple[str, float, float]] = []
        # every cycle of every robot and station: unit, start, end (a robot's end once the cycle is done)
        stations = {
            seg.resource
            for v in inputs.variants
            for stages in (v.stages, v.stages_no_inspection or ())
            for stage in stages
            for seg in stage
            if seg.kind in (INSPECT, CONVEY)
        }
        owners = [s.owner for s in shapes]
        printer = [inputs.printer_id] if inputs.printer_id is not None else []
        self.cycles: dict[str, tuple[list[int], list[float], list[float]]] = {
            r: ([], [], []) for r in (*owners, *printer, *sorted(stations))
        }
        self.u_variant: list[int] = []
        self.u_release: list[float] = []
        self.u_done: list[float] = []
        self.u_status: list[int] = []
        self.u_defect: list[int] = []  # NO_DEFECT, SCREW_DEFECT or INSPECTION_DEFECT
        self.u_screwed_at: list[float] = []  # when the unit's last screw was driven (NaN: not yet)
        self.u_screws_before: list[int] = []  # screws the screwdriver drove since its last bit change, before
        self.u_inspected_at: list[float] = []  # end of the unit's inspection (NaN: not inspected)
        self.u_sampled: list[bool] = []
        self.u_plan: list[Any] = []  # the unit's compiled stages (its variant's, with or without inspection)
        self.screws = dict.fromkeys(self.robots, 0)
        self.maintenance_due: dict[str, int | None] = dict.fromkeys(self.robots)
        self._torque_log_ok = _torque_table(inputs.quality)
        self._heat_j = inputs.printer_power_w.get("setup", 0.0) * inputs.heating_s
        self._print_w = inputs.printer_power_w.get("running", 0.0)
        self._heat_s = inputs.heating_s
        self._print_s = [v.print_s for v in inputs.variants]
        self._printer_count = inputs.printer_count
        self._printer = inputs.printer_id
        self._printer_energy = self.energy[inputs.printer_id] if inputs.printer_id is not None else []
        self._printer_cycles = self.cycles[inputs.printer_id] if inputs.printer_id is not None else ([], [], [])
        self._printing_n = self.printing.normals()
        self._orders_u = self.orders.uniforms()
        self._sampling = inputs.quality.sampling
        # per variant: its stages compiled for the hot loop (see _compile), with and without inspection
        self._plans = [(_compile(v.stages), _compile(v.stages_no_inspection)) for v in inputs.variants]

    # helpers ---------------------------------------------------------------------------------------
    def _energy(self, meter: str, t: float, joules: float) -> None:
        index = int(t / BIN_S)
        if 0 <= index < self.n_bins:
            self.energy[meter][index] += joules

    def _fail(self, resource: str, start: float, busy_s: float, unit: int | None) -> float:
        """Consume ``busy_s`` of the resource's operating time from ``start``; return the repair time inserted."""
        clock = self.clock.get(resource)
        if clock is None:
            return 0.0
        if clock > busy_s:
            self.clock[resource] = clock - busy_s
            return 0.0
        fault = self.inputs.faults[resource]
        draws = self.fault_draws[resource]
        t, remaining, extra = start, busy_s, 0.0
        mu = math.log(fault.mttr_s) - REPAIR_SIGMA**2 / 2.0
        while clock <= remaining:
            t += clock
            remaining -= clock
            repair = math.exp(mu + REPAIR_SIGMA * draws.normal())
            self.faults.append((resource, t, t + repair))
            self.fault_units.append(-1 if unit is None else unit)
            t += repair
            extra += repair
            clock = draws.exponential(fault.mtbf_s)
        self.clock[resource] = clock - remaining
        return extra

    def _new_unit(self, release_s: float) -> int:
        orders = self._orders_u
        index = bisect_right(self.mix, orders.pop() if orders else self.orders.uniform())
        unit = len(self.u_variant)
        self.u_variant.append(index)
        self.u_release.append(release_s)
        self.u_done.append(math.nan)
        self.u_status.append(IN_PROCESS)
        self.u_defect.append(NO_DEFECT)
        self.u_screwed_at.append(math.nan)
        self.u_screws_before.append(0)
        self.u_inspected_at.append(math.nan)
        sampling = self._sampling
        sampled = sampling >= 1.0 or (orders.pop() if orders else self.orders.uniform()) < sampling
        self.u_sampled.append(sampled)
        self.u_plan.append(self._plans[index][0 if sampled else 1])
        return unit

    # processes ---------------------------------------------------------------------------------------
    def _printer_bank(self) -> Any:
        """Printers complete jobs in time order; a bracket finding the buffer full stays on its printer.

        While the buffer is full the bank waits; :meth:`_take_bracket` moves the oldest finished bracket
        in and restarts its printer, and wakes the bank only when no finished bracket is left waiting.
        """
        env, heap = self.env, self._heap
        for i in range(self.inputs.printer_count):
            self._start_print(i, 0.0)
        while heap:
            t_done = heap[0][0]
            if t_done > env.now:
                yield env.timeout(t_done - env.now)
                continue  # a bank fault may have moved the completions
            _, i, unit = heapq.heappop(heap)
            if self.brackets.put(unit) is None:
                self._notify(self.inputs.shapes[0].owner)
                self._start_print(i, env.now)
                continue
            self._bank_blocked = (i, unit)
            self._bank_wait = env.event()
            yield self._bank_wait

    def _take_bracket(self) -> int | None:
        """The oldest bracket in the buffer (None when empty); a printer holding a finished one refills it."""
        items = self.brackets.items
        if not items:
            return None
        unit = items.popleft()
        if self._bank_blocked is not None:
            i, held = self._bank_blocked
            items.append(held)
            self._bank_blocked = None
            now = self.env.now
            self._start_print(i, now)
            heap = self._heap
            if heap and heap[0][0] <= now:  # the next finished bracket waits on its printer in turn
                _, j, waiting = heapq.heappop(heap)
                self._bank_blocked = (j, waiting)
            elif self._bank_wait is not None:
                self._bank_wait.succeed()
                self._bank_wait = None
        return unit

    def _start_print(self, i: int, now: float) -> None:
        """Printer ``i`` starts the next order's bracket at ``now`` (or when the next window opens)."""
        cal, heap = self.cal, self._heap
        windows = cal.windows
        index = bisect_right(cal.window_starts, now) - 1
        if index < 0 or now >= windows[index][1]:  # closed: start when the next window opens
            index += 1
            if index >= len(windows):
                return
            now = windows[index][0]
        start = now
        unit = self._new_unit(start)
        printing = self._printing_n
        print_s = self._print_s[self.u_variant[unit]] * (
            1.0 + PRINT_JITTER * (printing.pop() if printing else self.printing.normal())
        )
        busy = self._heat_s + print_s
        repair = 0.0
        printer = self._printer
        clock = self.clock.get(printer)
        if clock is not None:  # bank-level faults: the bank's operating time is its printers' mean
            share = busy / self._printer_count
            if clock > share:
                self.clock[printer] = clock - share
            else:
                repair = self._fail(printer, start, share, unit)
                fault_at = self.faults[-1][1]
                heap[:] = [(t + repair if t > fault_at else t, j, u) for t, j, u in heap]
                heapq.heapify(heap)
        done = start + busy + repair
        bin_index = int((start + 0.5 * busy) / BIN_S)
        if bin_index < self.n_bins:
            self._printer_energy[bin_index] += self._heat_j + self._print_w * print_s
        units, starts, ends = self._printer_cycles
        units.append(unit)
        starts.append(start)
        ends.append(done)
        heapq.heappush(heap, (done, i, unit))

    def _robot(self, robot: str) -> Any:
        """A robot's cycles: it serves its stages, the latest in the plan first (unload before load).

        A stage starts inside a working window, with its unit there and a place free where it puts the unit
        (a nest, a machine), so the robot never waits for a place once it has begun. A robot with one stage
        waits for the place and then the unit; one with several waits until any of its stages can start.
        """
        env, inp, cal = self.env, self.inputs, self.cal
        stages = self.robot_stages[robot]
        order = stages[::-1]
        expected = max(sum(v.share * v.stage_work_s[k] for v in inp.variants) for k in stages)
        half = 0.5 * expected
        shapes = inp.shapes
        made = inp.printer_id is not None
        single = len(stages) == 1
        only = stages[0]  # a robot with one stage: its place and its queue, looked up once
        only_place = self.places[shapes[only].enters] if shapes[only].enters is not None else None
        only_source = self.handoff[only]
        # where each of its stages hands the unit on: straight into the queue of a one-stage robot
        direct = {
            j: self.handoff[j + 1]
            for j in stages
            if j + 1 < len(shapes) and not shapes[j + 1].process and len(self.robot_stages[shapes[j + 1].owner]) == 1
        }
        timeout = env.timeout
        wait_s = cal.wait_s
        windows, window_starts = cal.windows, cal.window_starts
        own_units, own_starts, own_ends = self.cycles[robot]
        robot_energy = self.energy[robot]
        n_bins = self.n_bins
        jitter = self.jitter[robot]
        jitter_n = jitter.normals()
        station_jitter = self.station_jitter
        station_n = station_jitter.normals()
        quality = self.quality
        quality_u = quality.uniforms()
        q = inp.quality
        rework_share = q.rework_share
        p_ok_inspected = 1.0 - q.p_inspection_defect
        interval = q.maintenance_interval_screws
        table = self._torque_log_ok
        last = len(table) - 1
        last_rate = table[last] - table[last - 1]
        screws, maintenance_due = self.screws, self.maintenance_due
        u_plan, u_status, u_defect, u_done = self.u_plan, self.u_status, self.u_defect, self.u_done
        u_screwed_at, u_screws_before, u_inspected_at = self.u_screwed_at, self.u_screws_before, self.u_inspected_at
        cycles = self.cycles
        clock, energy = self.clock, self.energy
        fail = self._fail
        open_from = open_until = -math.inf  # the working window last found open

        def window_wait(now: float) -> float:
            """Seconds before a cycle may start at ``now`` (:meth:`ShiftCalendar.wait_s`, the open window cached)."""
            nonlocal open_from, open_until
            if open_from <= now and now + half <= open_until:
                return 0.0
            wait = wait_s(now, expected)
            if wait == 0.0:
                open_from, open_until = windows[bisect_right(window_starts, now) - 1]
            return wait

        def ready(k: int) -> bool:
            """Whether stage ``k`` could start now (its unit is there and a place is free)."""
            if k == 0:
                if made and not self.brackets.items:
                    return False
            elif not self.handoff[k].items:
                return False
            enters = shapes[k].enters
            return enters is None or self.places[enters].free_at() <= env.now

        while True:
            wait = window_wait(env.now)
            if wait > 0.0:
                if wait == math.inf:
                    return
                yield timeout(wait)
            waited = False
            if single:
                k = only
                if only_place is not None:
                    place = only_place.acquire()
                    if place is not None:
                        yield place
                        waited = True
                if k == 0:
                    if made:
                        unit = self._take_bracket()
                        if unit is None:
                            unit = yield self.brackets.wait()
                            waited = True
                    else:
                        unit = self._new_unit(env.now)
                else:
                    unit = only_source.take()
                    if unit is None:
                        unit = yield only_source.wait()
                        waited = True
            else:
                k = next((k for k in order if ready(k)), -1)
                if k < 0:  # nothing to do: wait for a unit or a place
                    wake = self._wake[robot] = env.event()
                    frees = [self.places[e].free_at() for e in (shapes[j].enters for j in stages) if e is not None]
                    soonest = min(frees, default=math.inf)
                    if soonest < math.inf and soonest > env.now:
                        yield env.any_of([wake, timeout(soonest - env.now)])
                    else:
                        yield wake
                    self._wake[robot] = None
                    continue
                enters = shapes[k].enters
                if enters is not None:
                    self.places[enters].acquire()  # free now (ready), so taken without waiting
                if k == 0:
                    unit = self._take_bracket() if made else self._new_unit(env.now)
                else:
                    unit = self.handoff[k].take()
            if waited:  # the window may have closed while the robot waited
                wait = window_wait(env.now)
                if wait > 0.0:
                    if wait == math.inf:
                        return
                    yield timeout(wait)
            factor = 1.0 + ROBOT_JITTER * abs(jitter_n.pop() if jitter_n else jitter.normal())
            started = env.now
            own_units.append(unit)
            own_starts.append(started)
            segments, robot_s, robot_j = u_plan[unit][k]
            work = robot_s * factor
            t = env.now
            pending = 0.0
            # the robot's own work: one fault check for the cycle unless its failure clock runs out in it
            left = clock.get(robot)
            check = left is not None and left <= work
            if left is not None and not check:
                clock[robot] = left - work
            for kind, resource, duration, joules, count, own_s in segments:
                if own_s:  # the robot's own work before this step (contiguous, so one fault check covers it)
                    d = own_s * factor
                    pending += d + (fail(robot, t + pending, d, unit) if check else 0.0)
                if kind == WORK:  # another resource's work (the robot's own is folded into own_s)
                    d = duration * factor
                    repair = fail(resource, t + pending, d, unit)
                    index = int((t + pending + repair + 0.5 * d) / BIN_S)
                    if index < n_bins:
                        energy[resource][index] += joules * factor
                    pending += d + repair
                elif kind == SCREWED:  # the screws are driven: is the unit defective? the screwdriver wears
                    at = t + pending
                    if maintenance_due[resource] is not None:
                        self._change_bit_if_due(resource, at)
                    s = screws[resource]
                    n = s + count
                    log_ok = table[n if n < last else last] - table[s if s < last else last]
                    if n > last:  # past the table: every further screw at the last screw's rate
                        log_ok += (n - (s if s > last else last)) * last_rate
                    # one draw decides: below P(screws ok) x P(gap and flush ok) the unit is good; above
                    # P(screws ok) a screw is out of its limits; in between gap or flush will be
                    draw = quality_u.pop() if quality_u else quality.uniform()
                    p_screws_ok = math.exp(log_ok)
                    if draw >= p_screws_ok * p_ok_inspected:
                        u_defect[unit] = SCREW_DEFECT if draw >= p_screws_ok else INSPECTION_DEFECT
                    u_screwed_at[unit] = at
                    u_screws_before[unit] = s
                    screws[resource] = n
                    if n >= interval and maintenance_due[resource] is None:
                        maintenance_due[resource] = bisect_right(window_starts, at) - 1
                elif kind == RELEASE:  # the unit leaves the station it was held at: its place is free then
                    self.places[resource].release_in(pending)
                elif kind == INSPECT:
                    at = t + pending
                    left = clock.get(resource)
                    if left is not None and left <= duration:
                        repair = fail(resource, at, duration, unit)
                    else:
                        repair = 0.0
                        if left is not None:
                            clock[resource] = left - duration
                    at += repair
                    d = duration * (1.0 + STATION_JITTER * (station_n.pop() if station_n else station_jitter.normal()))
                    index = int((at + 0.5 * d) / BIN_S)
                    if index < n_bins:
                        energy[resource][index] += joules * d / duration
                    pending += repair + d
                    station_units, station_starts, station_ends = cycles[resource]
                    station_units.append(unit)
                    station_starts.append(at)
                    station_ends.append(at + d)
                    u_inspected_at[unit] = at + d
                    if u_defect[unit]:
                        draw = quality_u.pop() if quality_u else quality.uniform()
                        u_status[unit] = REWORKED if draw < rework_share else SCRAPPED
                    else:
                        u_status[unit] = GOOD
                elif kind == CONVEY:  # onto the conveyor's earliest free place; the robot waits for one
                    at = t + pending
                    spots = self.spots[resource]
                    earliest = min(spots)
                    waited_s = earliest - at if earliest > at else 0.0
                    at += waited_s
                    left = clock.get(resource)
                    if left is None:
                        repair = 0.0
                    elif left > duration:
                        clock[resource] = left - duration
                        repair = 0.0
                    else:
                        repair = fail(resource, at, duration, unit)
                    done = at + duration + repair
                    spots[spots.index(earliest)] = done
                    index = int((at + 0.5 * duration) / BIN_S)
                    if index < n_bins:
                        energy[resource][index] += joules
                    u_done[unit] = done
                    if u_status[unit] == IN_PROCESS:  # inspection did not sample the unit
                        if u_defect[unit] == SCREW_DEFECT:  # the screwdriver measured it: known bad all the same
                            draw = quality_u.pop() if quality_u else quality.uniform()
                            u_status[unit] = REWORKED if draw < rework_share else SCRAPPED
                        else:
                            u_status[unit] = ESCAPED if u_defect[unit] else GOOD
                    station_units, station_starts, station_ends = cycles[resource]
                    station_units.append(unit)
                    station_starts.append(at)
                    station_ends.append(done)
                    pending += waited_s
            if pending > 0.0:
                yield timeout(pending)
            now = env.now
            index = int(0.5 * (started + now) / BIN_S)  # the cycle's robot energy, in its middle
            if index < n_bins:
                robot_energy[index] += robot_j * factor
            own_ends.append(now)
            target = direct.get(k)
            if target is not None:
                target.put(unit)
            else:
                self._pass_on(k + 1, unit)

    def _pass_on(self, k: int, unit: int) -> None:
        """Hand a unit to stage ``k``: its robot's queue, or its station's process (started at once)."""
        shapes = self.inputs.shapes
        if k >= len(shapes):
            return
        shape = shapes[k]
        if not shape.process:
            self.handoff[k].put(unit)
            self._notify(shape.owner)
            return
        # a machine or manual station processes the unit in one of its places (taken by the stage that loaded it)
        env = self.env
        segment = self.u_plan[unit][k][0][0]
        resource, duration, joules = segment[1], segment[2], segment[3]
        draws = self.station_jitter
        d = duration * (1.0 + STATION_JITTER * draws.normal())
        at = env.now
        repair = self._fail(resource, at, d, unit)
        done = at + repair + d
        index = int((at + repair + 0.5 * d) / BIN_S)
        if index < self.n_bins:
            self.energy[resource][index] += joules * d / duration if duration > 0 else 0.0
        units, starts, ends = self.cycles[resource]
        units.append(unit)
        starts.append(at + repair)
        ends.append(done)
        event = env.timeout(done - at)
        event.callbacks.append(lambda _event: self._pass_on(k + 1, unit))

    def _notify(self, robot: str) -> None:
        """Wake a robot that serves several stages and waits for something to do."""
        wake = self._wake.get(robot)
        if wake is not None and not wake.triggered:
            wake.succeed()

    def _notify_in(self, robots: tuple[str, ...], delay: float) -> None:
        """Wake these robots when a place frees ``delay`` seconds from now."""
        if delay <= 0.0:
            for robot in robots:
                self._notify(robot)
            return
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _event: [self._notify(robot) for robot in robots])

    def _change_bit_if_due(self, robot: str, at: float) -> None:
        """The screwdriver's bit is changed before the first working window after the one it fell due in."""
        index = self.cal.window_index(at)
        if index <= self.maintenance_due[robot]:  # type: ignore[operator]
            return
        start = self.cal.windows[index][0] - MAINTENANCE_S
        self.setups.append((robot, start, start + MAINTENANCE_S))
        self.screws[robot] = 0
        self.maintenance_due[robot] = None

    # run -----------------------------------------------------------------------------------------------
    def run(self) -> ReplicationRecord:
        """Simulate the horizon and return the record."""
        env = self.env
        if self.inputs.printer_id is not None:
            env.process(self._printer_bank())
        for robot in self.robots:
            env.process(self._robot(robot))
        env.run(until=self.cal.horizon_s)
        return ReplicationRecord(
            seed=self.seed,
            replication=self.replication,
            unit_variant=self.u_variant,
            unit_release_s=self.u_release,
            unit_done_s=self.u_done,
            unit_status=self.u_status,
            faults=self.faults,
            setups=self.setups,
            energy_j=self.energy,
            fault_units=self.fault_units,
            cycles=self.cycles,
            unit_defect=self.u_defect,
            unit_screwed_at_s=self.u_screwed_at,
            unit_screws_before=self.u_screws_before,
            unit_inspected_at_s=self.u_inspected_at,
            sim_events=_scheduled(env),
        )


def _compile(stages: Any) -> list[tuple[tuple[tuple[int, str, float, float, int, float], ...], float, float]] | None:
    """Stages for the hot loop.

    Each stage becomes (steps, the stage robot's work in s, its energy in J). A step is a plain tuple
    (kind, resource, duration, energy, count, own_s): every segment but the stage robot's own work, with
    ``own_s`` the robot's own work right before it; a last ``OWN_TAIL`` step carries the work after the last.
    A station's process stage is its one ``PROCESS`` step.
    """
    if stages is None:
        return None
    out = []
    for stage in stages:
        if stage[0].kind == PROCESS:
            s = stage[0]
            out.append((((s.kind, s.resource, s.duration_s, s.energy_j, 0, 0.0),), 0.0, 0.0))
            continue
        robot = next(s.resource for s in stage if s.kind == WORK)
        steps, own_s = [], 0.0
        for s in stage:
            if s.kind == WORK and s.resource == robot:
                own_s += s.duration_s
            else:
                steps.append((s.kind, s.resource, s.duration_s, s.energy_j, s.count, own_s))
                own_s = 0.0
        steps.append((OWN_TAIL, robot, 0.0, 0.0, 0, own_s))
        own = [s for s in stage if s.kind == WORK and s.resource == robot]
        out.append((tuple(steps), sum(s.duration_s for s in own), sum(s.energy_j for s in own)))
    return out


def _scheduled(env: simpy.Environment) -> int:
    """How many events the environment scheduled (SimPy's event id counter; 0 if it is not there)."""
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else 0


def _torque_table(q: Any) -> list[float]:
    """Cumulative log P(screw in spec) over the screws driven since the last bit change."""
    from scipy.special import ndtr

    n = min(q.maintenance_interval_screws, 50_000) * 2 + 4000  # beyond it the last rate extrapolates
    s = np.arange(n, dtype=np.float64)
    mean = q.torque_mean_nm + q.drift_nm_per_screw * s
    if q.torque_sigma_nm > 0:
        p_out = ndtr((q.torque_lsl - mean) / q.torque_sigma_nm) + 1.0 - ndtr((q.torque_usl - mean) / q.torque_sigma_nm)
    else:
        p_out = ((mean < q.torque_lsl) | (mean > q.torque_usl)).astype(np.float64)
    log_ok = np.log(np.clip(1.0 - p_out, 1e-300, 1.0))
    return [0.0, *np.cumsum(log_ok).tolist()]
