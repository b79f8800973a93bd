"""Indexes over the backend's store of watched objects, so that one event costs one lookup.

The store is `{resource type: {(namespace, name): object}}` (console/kube/backend.py).
Beside it this module keeps, per resource type:

* the objects of each namespace (a namespace's slice without scanning the type);
* the objects owned by each owner (`metadata.ownerReferences`), keyed by the owner's
  UID and, for owners written without one (hand-made fixtures), by kind/namespace/name;
* where each UID lives, so an owner reference resolves to the stored object.

A Pod event finds its ReplicaSet by UID and the ReplicaSet its Rollout: O(1) per
event instead of a scan of the namespace. Pure dict work: no kubernetes, no textual.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from console.kube.provider import Obj, ResourceType, meta

Key = tuple[str, str]  # (namespace, name)


def _refs(obj: Obj) -> list[Mapping[str, Any]]:
    md = obj.get("metadata")
    refs = md.get("ownerReferences") if isinstance(md, Mapping) else None
    if not isinstance(refs, list):
        return []
    return [r for r in refs if isinstance(r, Mapping)]


def uid_of(obj: Obj) -> str:
    md = obj.get("metadata")
    uid = md.get("uid") if isinstance(md, Mapping) else None
    return uid if isinstance(uid, str) else ""


def named_owner(kind: str, namespace: str, name: str) -> str:
    """The owner key of an owner without a UID (owner references always name their kind)."""
    return f"{kind}\0{namespace}\0{name}"


def owner_keys(obj: Obj) -> set[str]:
    """Every key `obj` is indexed under as a child: each owner's UID, and kind/ns/name.

    The second form matches `argo._owned_by` for owners without a UID, which
    compares kind and name only.
    """
    ns = meta(obj)[0]
    out: set[str] = set()
    for ref in _refs(obj):
        uid = ref.get("uid")
        if isinstance(uid, str) and uid:
            out.add(uid)
        kind, name = ref.get("kind"), ref.get("name")
        if isinstance(kind, str) and isinstance(name, str):
            out.add(named_owner(kind, ns, name))
    return out


def owner_key(obj: Obj, kind: str) -> str:
    """The key an object's children are indexed under (its UID, else kind/ns/name)."""
    uid = uid_of(obj)
    if uid:
        return uid
    ns, name = meta(obj)
    return named_owner(kind, ns, name)


class StoreIndex:
    """The store of one cluster and its indexes. The consumer thread writes it; readers
    on other threads (the inspector) read `store` only, which keeps its plain shape."""

    def __init__(self, store: dict[ResourceType, dict[Key, Obj]]) -> None:
        self.store = store
        self._by_ns: dict[ResourceType, dict[str, dict[str, Obj]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self._children: dict[ResourceType, dict[str, dict[Key, Obj]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        # A UID names one object; a set all the same, so that fixtures (or a restore)
        # that repeat one cannot make a deletion forget the other holder.
        self._uids: dict[str, dict[tuple[ResourceType, Key], None]] = defaultdict(dict)

    # --- writing ---------------------------------------------------------------------

    def replace(self, rt: ResourceType, objects: Iterable[Obj]) -> dict[Key, Obj]:
        """A relist: the type's bucket becomes `objects`. Returns the old bucket."""
        old = self.store.get(rt, {})
        for key, obj in old.items():
            self._unlink(rt, key, obj)
        self._by_ns.pop(rt, None)
        self._children.pop(rt, None)
        bucket: dict[Key, Obj] = {}
        for obj in objects:
            key = meta(obj)
            bucket[key] = obj
            self._link(rt, key, obj)
        self.store[rt] = bucket
        return old

    def put(self, rt: ResourceType, obj: Obj) -> Obj | None:
        """Store (add or replace) one object; returns the one it replaced."""
        key = meta(obj)
        bucket = self.store.setdefault(rt, {})
        old = bucket.get(key)
        if old is not None:
            self._unlink(rt, key, old)
        bucket[key] = obj
        self._link(rt, key, obj)
        return old

    def delete(self, rt: ResourceType, key: Key) -> Obj | None:
        old = self.store.get(rt, {}).pop(key, None)
        if old is not None:
            self._unlink(rt, key, old)
        return old

    def _link(self, rt: ResourceType, key: Key, obj: Obj) -> None:
        self._by_ns[rt][key[0]][key[1]] = obj
        for owner in owner_keys(obj):
            self._children[rt][owner][key] = obj
        uid = uid_of(obj)
        if uid:
            self._uids[uid][(rt, key)] = None

    def _unlink(self, rt: ResourceType, key: Key, obj: Obj) -> None:
        names = self._by_ns.get(rt, {}).get(key[0])
        if names is not None:
            names.pop(key[1], None)
            if not names:
                del self._by_ns[rt][key[0]]
        children = self._children.get(rt)
        if children is not None:
            for owner in owner_keys(obj):
                kids = children.get(owner)
                if kids is not None:
                    kids.pop(key, None)
                    if not kids:
                        del children[owner]
        uid = uid_of(obj)
        holders = self._uids.get(uid) if uid else None
        if holders is not None:
            holders.pop((rt, key), None)
            if not holders:
                del self._uids[uid]

    # --- reading ---------------------------------------------------------------------

    def in_namespace(self, rt: ResourceType, namespace: str) -> list[Obj]:
        names = self._by_ns.get(rt, {}).get(namespace)
        return list(names.values()) if names else []

    def namespaces(self, rt: ResourceType) -> Iterator[str]:
        return iter(list(self._by_ns.get(rt, {})))

    def children(self, rt: ResourceType, owner: str) -> list[Obj]:
        """The objects of type `rt` that name `owner` (an owner key) as an owner."""
        kids = self._children.get(rt, {}).get(owner)
        return list(kids.values()) if kids else []

    def by_uid(self, uid: str) -> list[tuple[ResourceType, Key]]:
        return list(self._uids.get(uid) or ())

    def owners(
        self, obj: Obj, want: ResourceType, via: Iterable[ResourceType], depth: int = 3
    ) -> set[Key]:
        """Keys of the `want` objects that own `obj`, directly or through owners of the
        types in `via` (a Pod's ReplicaSet's Rollout). An owner named by kind but not (yet)
        stored still counts when it is of the wanted kind: its own event will find the rest."""
        via = frozenset(via)
        out: set[Key] = set()
        ns = meta(obj)[0]
        for ref in _refs(obj):
            uid = ref.get("uid")
            found = self._uids.get(uid) if isinstance(uid, str) and uid else None
            if found:
                for rt, key in list(found):
                    if rt == want:
                        out.add(key)
                    elif rt in via and depth > 1:
                        parent = self.store.get(rt, {}).get(key)
                        if parent is not None:
                            out |= self.owners(parent, want, via, depth - 1)
                continue
            name = ref.get("name")
            if ref.get("kind") == want.kind and isinstance(name, str):
                out.add((ns, name))
        return out

    def descendants(
        self, obj: Obj, kind: str, types: Iterable[ResourceType], depth: int = 2
    ) -> dict[ResourceType, list[Obj]]:
        """Objects of `types` owned by `obj` (of `kind`), or by what it owns, `depth` deep:
        a Rollout's ReplicaSets, their Pods, its AnalysisRuns. A superset of what the
        provider matches by owner; the provider still checks each reference itself."""
        types = tuple(types)
        out: dict[ResourceType, dict[int, Obj]] = {rt: {} for rt in types}
        level: list[tuple[Obj, str]] = [(obj, kind)]
        for _ in range(depth):
            nxt: list[tuple[Obj, str]] = []
            for parent, parent_kind in level:
                key = owner_key(parent, parent_kind)
                for rt in types:
                    for child in self.children(rt, key):
                        if id(child) not in out[rt]:
                            out[rt][id(child)] = child
                            nxt.append((child, rt.kind))
            level = nxt
        return {rt: list(found.values()) for rt, found in out.items()}
