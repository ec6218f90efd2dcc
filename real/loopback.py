"""A loopback rosbridge v2 server with a kinematic Fetch behind it: the robot-side stand-in.

:class:`LoopbackRosbridge` is a websocket server (``websockets``) on 127.0.0.1 that speaks the
rosbridge v2 JSON protocol the way ``rosbridge_server`` does: ``advertise``/``unadvertise``,
``publish``, ``subscribe``/``unsubscribe`` (with routing between clients), ``call_service`` /
``service_response`` (``/rosapi/topics``), and ROS 1 actions over their topics (goals on
``<server>/goal``, cancels on ``<server>/cancel``, ``actionlib_msgs/GoalStatusArray`` on
``<server>/status`` at 5 Hz, results on ``<server>/result``).  roslibpy, unchanged, is the client.

:class:`LoopbackFetch` answers the Fetch's interfaces: ``/move_group`` pose and joint goals
(``plan_only`` plans without moving; goals beyond the arm's reach fail with PLANNING_FAILED),
``/gripper_controller/gripper_action`` (closing on a :class:`~real.software_camera.Box` whose
width along the closing axis fits between the fingers grasps it; the box then moves with the
gripper), and ``/joint_states`` with the finger joints at 20 Hz.  When a client disconnects the
server cancels its goals, as the robot-side watchdog does (docs/real_robot.md).

Every message received is kept in :attr:`LoopbackRosbridge.received` for inspection.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import numpy as np

from real.calibration import Calibration, quat_to_mat
from real.robot import ARM_JOINTS, FINGER_JOINTS, LINK_IN_TCP
from real.software_camera import TableScene

STATUS = {"PENDING": 0, "ACTIVE": 1, "PREEMPTED": 2, "SUCCEEDED": 3, "ABORTED": 4}


def _stamp() -> dict:
    t = time.time()
    return {"secs": int(t), "nsecs": int((t - int(t)) * 1e9)}


class LoopbackRosbridge:
    """rosbridge v2 protocol server on 127.0.0.1 (an ephemeral port unless one is given).

    ``actions`` maps an action server name to ``(action type, handler)``; a handler is
    ``async handler(goal: dict, cancelled: asyncio.Event) -> (status name, result dict)``.
    ``services`` maps a service name to ``handler(args) -> values``.  ``topics`` lists topics
    (name -> type) the robot side publishes, reported by ``/rosapi/topics``.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.actions: dict[str, tuple[str, object]] = {}
        self.services: dict[str, object] = {"/rosapi/topics": self._rosapi_topics}
        self.topics: dict[str, str] = {}
        self.received: list[dict] = []
        self.connections: set = set()
        self._subs: dict[str, dict] = {}  # topic -> {(conn, sub id)}
        self._advertised: dict[str, str] = {}
        self._goals: dict[str, dict[str, dict]] = {}  # action -> goal id -> {status, conn, cancel}
        self._periodic: list = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LoopbackRosbridge":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True, name="loopback-rosbridge")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback rosbridge server did not start within 10 s")
        return self

    def _run(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        self.loop = asyncio.new_event_loop()

        async def main():
            self._stop_future = self.loop.create_future()
            async with serve(self._handle, "127.0.0.1", self.port) as server:
                self.port = server.sockets[0].getsockname()[1]
                tasks = [asyncio.ensure_future(self._status_loop())] + [asyncio.ensure_future(p()) for p in self._periodic]
                ready.set()
                await self._stop_future
                for t in tasks:
                    t.cancel()

        try:
            self.loop.run_until_complete(main())
        finally:
            self.loop.close()
            self._stopped.set()

    def stop(self) -> None:
        if self.loop is not None and not self._stopped.is_set():
            self.loop.call_soon_threadsafe(lambda: self._stop_future.done() or self._stop_future.set_result(None))
            self._stopped.wait(10)

    def drop_connections(self) -> None:
        """Close every client's websocket, as a network failure would (the server keeps running)."""
        async def _drop():
            for c in list(self.connections):
                c.transport.abort()  # no closing handshake: the link just dies

        asyncio.run_coroutine_threadsafe(_drop(), self.loop).result(5)

    def __enter__(self) -> "LoopbackRosbridge":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ protocol
    async def _send(self, conn, msg: dict) -> None:
        try:
            await conn.send(json.dumps(msg))
        except Exception:  # the client went away; its cleanup happens in _handle
            pass

    async def publish(self, topic: str, msg: dict) -> None:
        """Deliver ``msg`` to every subscriber of ``topic``."""
        for conn, _sid in list(self._subs.get(topic, {})):
            await self._send(conn, {"op": "publish", "topic": topic, "msg": msg})

    async def _handle(self, conn) -> None:
        self.connections.add(conn)
        try:
            async for raw in conn:
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError:
                    await self._send(conn, {"op": "status", "level": "error", "msg": "message is not JSON"})
                    continue
                self.received.append(msg)
                await self._dispatch(conn, msg)
        except Exception:  # connection reset by the client
            pass
        finally:
            self.connections.discard(conn)
            for subs in self._subs.values():
                for key in [k for k in subs if k[0] is conn]:
                    subs.pop(key)
            for goals in self._goals.values():
                for g in goals.values():
                    if g["conn"] is conn and g["status"] in (STATUS["PENDING"], STATUS["ACTIVE"]):
                        g["cancel"].set()  # robot-side watchdog: stop what the lost client started

    async def _dispatch(self, conn, msg: dict) -> None:
        op = msg.get("op")
        if op == "advertise":
            self._advertised[msg["topic"]] = msg.get("type", "")
        elif op == "unadvertise":
            self._advertised.pop(msg.get("topic"), None)
        elif op == "subscribe":
            topic = msg["topic"]
            self._subs.setdefault(topic, {})[(conn, msg.get("id"))] = True
            action = topic[: -len("/status")] if topic.endswith("/status") else None
            if action in self.actions:
                await self._publish_status(action)
        elif op == "unsubscribe":
            subs = self._subs.get(msg.get("topic"), {})
            for key in [k for k in subs if k[0] is conn]:
                subs.pop(key)
        elif op == "publish":
            await self._on_publish(conn, msg["topic"], msg.get("msg", {}))
        elif op == "call_service":
            await self._on_service(conn, msg)
        elif op in ("set_level", "auth", "status"):
            pass
        else:
            await self._send(conn, {"op": "status", "level": "error", "id": msg.get("id"), "msg": f"unknown op {op!r}"})

    async def _on_service(self, conn, msg: dict) -> None:
        name = msg.get("service")
        reply = {"op": "service_response", "service": name}
        if msg.get("id") is not None:
            reply["id"] = msg["id"]
        handler = self.services.get(name)
        if handler is None:
            reply.update(result=False, values=f"Service {name} does not exist")
        else:
            reply.update(result=True, values=handler(msg.get("args", {})))
        await self._send(conn, reply)

    def _rosapi_topics(self, _args) -> dict:
        names = dict(self.topics)
        for a, (atype, _) in self.actions.items():
            base = atype[: -len("Action")] if atype.endswith("Action") else atype
            names.update({a + "/status": "actionlib_msgs/GoalStatusArray", a + "/result": base + "ActionResult",
                          a + "/feedback": base + "ActionFeedback", a + "/goal": base + "ActionGoal",
                          a + "/cancel": "actionlib_msgs/GoalID"})
        names.update(self._advertised)
        return {"topics": sorted(names), "types": [names[k] for k in sorted(names)]}

    async def _on_publish(self, conn, topic: str, msg: dict) -> None:
        for action in self.actions:
            if topic == action + "/goal":
                gid = msg["goal_id"]["id"]
                entry = {"status": STATUS["PENDING"], "conn": conn, "cancel": asyncio.Event(), "goal_id": msg["goal_id"]}
                self._goals.setdefault(action, {})[gid] = entry
                asyncio.ensure_future(self._execute(action, gid, msg.get("goal", {})))
                return
            if topic == action + "/cancel":
                gid = msg.get("id", "")
                for g_id, g in self._goals.get(action, {}).items():
                    if not gid or g_id == gid:
                        g["cancel"].set()
                return
        await self.publish(topic, msg)  # plain topic: route to the other clients' subscriptions

    async def _execute(self, action: str, gid: str, goal: dict) -> None:
        entry = self._goals[action][gid]
        entry["status"] = STATUS["ACTIVE"]
        await self._publish_status(action)
        _atype, handler = self.actions[action]
        work = asyncio.ensure_future(handler(goal, entry["cancel"]))
        cancel = asyncio.ensure_future(entry["cancel"].wait())
        done, _ = await asyncio.wait({work, cancel}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            cancel.cancel()
            status, result = work.result()
        else:
            work.cancel()
            status, result = "PREEMPTED", {}
        entry["status"] = STATUS[status]
        await self._publish_status(action)
        await self.publish(action + "/result", {
            "header": {"stamp": _stamp(), "frame_id": ""},
            "status": {"goal_id": entry["goal_id"], "status": entry["status"], "text": status},
            "result": result,
        })

    async def _publish_status(self, action: str) -> None:
        status_list = [{"goal_id": g["goal_id"], "status": g["status"], "text": ""}
                       for g in self._goals.get(action, {}).values()]
        await self.publish(action + "/status", {"header": {"stamp": _stamp(), "frame_id": ""}, "status_list": status_list})

    async def _status_loop(self) -> None:
        while True:
            for action in self.actions:
                await self._publish_status(action)
            await asyncio.sleep(0.2)

    def goals_sent(self, action: str) -> list[dict]:
        """The goal messages clients published to ``action`` (in order)."""
        return [m["msg"]["goal"] for m in self.received if m.get("op") == "publish" and m.get("topic") == action + "/goal"]


class LoopbackFetch:
    """A kinematic Fetch behind a :class:`LoopbackRosbridge`: arm reach, gripper, a box to grasp.

    Args:
        scene: The table scene the software camera renders; grasped boxes move in it.
        calibration: Gives the table frame (poses arrive in the base frame).
        tcp_offset: As :attr:`real.robot.FetchConfig.tcp_offset`.
        reach_center: Shoulder position in the base frame (m).
        reach: Farthest reachable distance of the gripper link from the shoulder (m).
        move_time: Seconds one motion takes.
        gripper_time: Seconds one gripper command takes.
    """

    def __init__(self, scene: TableScene, calibration: Calibration, *, tcp_offset: float = 0.0,
                 reach_center=(0.03, 0.0, 0.73), reach: float = 1.10, move_time: float = 0.02,
                 gripper_time: float = 0.02, port: int = 0) -> None:
        self.scene = scene
        self.calibration = calibration
        self.tcp_offset = tcp_offset
        self.reach_center = np.asarray(reach_center, float)
        self.reach = reach
        self.move_time = move_time
        self.gripper_time = gripper_time
        self.opening = 0.10
        self.tcp: tuple[np.ndarray, np.ndarray] | None = None  # table frame; None = tucked home
        self.held: int | None = None
        self._held_offset = None
        self.server = LoopbackRosbridge(port)
        self.server.actions["/move_group"] = ("moveit_msgs/MoveGroupAction", self._move_group)
        self.server.actions["/gripper_controller/gripper_action"] = ("control_msgs/GripperCommandAction", self._gripper)
        self.server.topics["/joint_states"] = "sensor_msgs/JointState"
        self.server._periodic.append(self._joint_state_loop)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> "LoopbackFetch":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> "LoopbackFetch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _joint_state_loop(self) -> None:
        while True:
            names = list(ARM_JOINTS) + list(FINGER_JOINTS)
            pos = [0.0] * len(ARM_JOINTS) + [self.opening / 2, self.opening / 2]
            await self.server.publish("/joint_states", {"header": {"stamp": _stamp(), "frame_id": ""},
                                                        "name": names, "position": pos, "velocity": [], "effort": []})
            await asyncio.sleep(0.05)

    async def _move_group(self, goal: dict, cancelled: asyncio.Event):
        req = goal.get("request", {})
        plan_only = bool(goal.get("planning_options", {}).get("plan_only", False))
        cons = (req.get("goal_constraints") or [{}])[0]
        if cons.get("joint_constraints"):
            target = None
        else:
            try:
                p = cons["position_constraints"][0]["constraint_region"]["primitive_poses"][0]["position"]
                o = cons["orientation_constraints"][0]["orientation"]
            except (KeyError, IndexError):
                return "ABORTED", {"error_code": {"val": -16}}  # INVALID_GOAL_CONSTRAINTS
            link_p = np.array([p["x"], p["y"], p["z"]])
            if np.linalg.norm(link_p - self.reach_center) > self.reach:
                return "ABORTED", {"error_code": {"val": -1}}  # PLANNING_FAILED
            R_link = quat_to_mat([o["x"], o["y"], o["z"], o["w"]])
            R_tcp = R_link @ LINK_IN_TCP.T
            tcp_p = self.calibration.base_to_table(link_p + self.tcp_offset * R_link[:, 0])
            target = (tcp_p, R_tcp)
        if plan_only:
            return "SUCCEEDED", {"error_code": {"val": 1}, "planned_trajectory": {}}
        await asyncio.sleep(self.move_time)
        with self.scene.lock:
            self.tcp = target
            if self.held is not None and target is not None:
                self.scene.boxes[self.held].center = target[0] + self._held_offset
        return "SUCCEEDED", {"error_code": {"val": 1}, "executed_trajectory": {}}

    async def _gripper(self, goal: dict, cancelled: asyncio.Event):
        cmd = goal.get("command", {})
        target = float(cmd.get("position", 0.0))
        await asyncio.sleep(self.gripper_time)
        with self.scene.lock:
            if target >= self.opening:  # opening: release whatever is held
                if self.held is not None:
                    b = self.scene.boxes[self.held]
                    b.center = np.array([b.center[0], b.center[1], b.size[2] / 2])  # it drops onto the table
                    self.held = None
                self.opening = min(target, 0.10)
                stalled = False
            else:
                width, idx = self._width_between_fingers()
                if idx is not None and width > target:
                    self.opening, self.held = width, idx
                    self._held_offset = self.scene.boxes[idx].center - self.tcp[0]
                    stalled = True
                else:
                    self.opening, stalled = target, False
        return "SUCCEEDED", {"position": self.opening, "effort": 0.0, "stalled": stalled, "reached_goal": not stalled}

    def _width_between_fingers(self) -> tuple[float, int | None]:
        """Width of the box crossing the closing line (TCP x axis) within the open fingers."""
        if self.tcp is None:
            return 0.0, None
        p, R = self.tcp
        d = R[:, 0]
        half = self.opening / 2
        for k, b in enumerate(self.scene.boxes):
            Rb = b.rotation
            o, dl, h = (p - b.center) @ Rb, d @ Rb, b.size / 2
            with np.errstate(divide="ignore", invalid="ignore"):
                t1, t2 = (-h - o) / dl, (h - o) / dl
            tmin = np.nanmax(np.minimum(t1, t2))
            tmax = np.nanmin(np.maximum(t1, t2))
            if tmax >= tmin and tmin >= -half and tmax <= half:
                return float(tmax - tmin), k
        return 0.0, None
