"""Entity jumps: which key reaches a type in another subgraph, and the `_entities` parts."""

from __future__ import annotations

from collections.abc import Iterable

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    NameNode,
    SelectionSetNode,
)

from crm_gateway.federation.planning.fieldsets import (
    conflicts,
    has_fragments,
    rep_fields,
)
from crm_gateway.federation.planning.plan import (
    EntityPart,
    Fetch,
    PlanningError,
    RepField,
    SelSet,
)
from crm_gateway.federation.planning.state import BuilderState, ProvidedTree
from crm_gateway.federation.supergraph.model import (
    KeyDef,
    field_set_names,
)


class EntityJumps(BuilderState):
    """Key choice, key/required field sets and entity parts of a plan builder."""

    def has_direct_key(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        graphs: Iterable[str],
        provided: ProvidedTree | None = None,
    ) -> bool:
        """Whether one of ``graphs`` has a key for ``parent`` that ``source`` fills in itself."""
        return any(
            all(
                self._fills(parent, source, f, provided) for f in field_set_names(key.selection_set)
            )
            for graph in graphs
            for key in self.sg.resolvable_keys(parent.name, graph)
        )

    def choose_key(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        graphs: Iterable[str],
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[str, KeyDef]:
        """Pick the target subgraph and the key the source subgraph can fill in."""
        ordered = sorted(
            graphs, key=lambda g: 0 if any(k[0] == path and k[1] == g for k in self.children) else 1
        )
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    self._fills(parent, source, f, provided)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        # No key the source can fill in itself: take one whose fields another subgraph can
        # provide (they are planned as an earlier entity jump, which delays this one).
        for graph in ordered:
            for key in self.sg.resolvable_keys(parent.name, graph):
                if all(
                    any(g != graph for g in self.sg.field_graphs(parent.name, f))
                    or source in self.sg.field_graphs(parent.name, f)
                    for f in field_set_names(key.selection_set)
                ):
                    return graph, key
        raise PlanningError(
            f"cannot reach {parent.name} in {', '.join(graphs)} from subgraph {source}"
        )

    def _fills(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        source: str,
        field_name: str,
        provided: ProvidedTree | None,
    ) -> bool:
        return source in self.sg.field_graphs(parent.name, field_name) or (
            provided is not None and field_name in provided
        )

    def ensure_field_set(
        self,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        selection_set: SelectionSetNode,
        fetch: Fetch,
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[list[RepField], int]:
        """Add key/required fields to the source selection; say where to read them back."""
        reps: list[RepField] = []
        stage = fetch.stage
        for sel in selection_set.selections:
            if not isinstance(sel, FieldNode):
                raise PlanningError("fragments in @key/@requires field sets are not supported")
            name = sel.name.value
            guard = (parent.name, name, fetch.id)
            if guard in self.filling:
                raise PlanningError(f"{parent.name}.{name} is needed to fetch itself")
            key = target.internal_key(name, tuple(sel.arguments or ()))
            node = FieldNode(
                alias=NameNode(value=key) if key != name else None,
                name=sel.name,
                arguments=sel.arguments,
                directives=(),
                selection_set=sel.selection_set,
            )
            self.made_nodes.append(node)
            self.gateway_nodes.add(id(node))
            if has_fragments(sel.selection_set):
                self.verbatim.add(id(node))
            self.filling.add(guard)
            try:
                planned = self.plan_field(parent, key, [node], fetch, target, path, provided)
            finally:
                self.filling.discard(guard)
            stage = max(stage, planned)
            sub = None
            if sel.selection_set is not None:
                sub = tuple(rep_fields(sel.selection_set))
            reps.append(RepField(name, key, sub))
        return reps, stage

    def entity_part(
        self,
        fetch: Fetch,
        parent: GraphQLObjectType | GraphQLInterfaceType,
        field_name: str,
        graphs: tuple[str, ...],
        target: SelSet,
        path: tuple[str, ...],
        provided: ProvidedTree | None = None,
    ) -> tuple[Fetch, EntityPart]:
        graph, key = self.choose_key(parent, fetch.subgraph, graphs, path, provided)
        target.ensure_typename()
        key_reps, key_stage = self.ensure_field_set(
            parent, key.selection_set, fetch, target, path, provided
        )
        required_reps: list[RepField] = []
        stage = key_stage + 1
        join = self.sg.field_join(parent.name, field_name, graph)
        if join is not None and join.requires_selection is not None:
            required_reps, produced_at = self.ensure_field_set(
                parent, join.requires_selection, fetch, target, path
            )
            stage = max(stage, produced_at + 1)
        # The subgraph may know the object only as an @interfaceObject interface.
        entity = self.sg.entity_type(parent.name, graph)
        child = self.children.get((path, graph, stage))
        if child is not None:
            existing = child.entities.get(entity)
            if existing is not None and conflicts(existing.rep, required_reps):
                child = None  # the same field required with other arguments: its own fetch
        if child is None:
            child = self.new_fetch(graph, stage, path, root=False)
            self.children.setdefault((path, graph, stage), child)
        if entity != parent.name:
            child.aliases[parent.name] = entity
        if isinstance(self.schema.get_type(entity), GraphQLInterfaceType):
            # Objects reaching this fetch may already carry their concrete __typename.
            for implementation in self.sg.implementations(entity):
                child.aliases.setdefault(implementation, entity)
        part = child.entities.get(entity)
        if part is None:
            rep = [RepField("__typename", "__typename"), *key_reps]
            part = child.entities[entity] = EntityPart(
                selection=SelSet(
                    reserved=target.reserved,
                    echoes=frozenset(r.name for r in key_reps if r.sub is None),
                ),
                rep=rep,
            )
        known = {r.name for r in part.rep}
        part.rep.extend(r for r in required_reps if r.name not in known)
        return child, part
