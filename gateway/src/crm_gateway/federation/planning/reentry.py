"""Re-entry: reaching a value-type object again from another subgraph (`Reentry.reenter`).

A field of a value type (no key) that another subgraph owns is fetched by repeating the path
from the nearest entity ancestor that subgraph can resolve, or from the query root.
"""

from __future__ import annotations

from graphql import GraphQLInterfaceType, GraphQLObjectType, get_named_type

from crm_gateway.federation.planning.entities import EntityJumps
from crm_gateway.federation.planning.plan import Fetch, PlanningError, SelSet, variables_in
from crm_gateway.federation.planning.state import Step


class Reentry(EntityJumps):
    """The builder's re-entry into another subgraph along the fields that led here."""

    def reenter(
        self, parent: GraphQLObjectType | GraphQLInterfaceType, graphs: tuple[str, ...]
    ) -> tuple[Fetch, SelSet] | None:
        """A fetch and selection in another subgraph reaching the current ``parent`` object.

        Walks up the fields that led here to the nearest entity that subgraph can resolve
        (or the root of a query), and selects the same path again from there.
        """
        for graph in graphs:
            if self.sg.resolvable_keys(parent.name, graph):
                continue  # an entity there: reached through its key, or not at all
            for i in range(len(self.chain) - 1, -1, -1):
                steps = self.chain[i:]
                if not all(
                    graph in self.sg.field_graphs(s.parent.name, s.node.name.value) for s in steps
                ):
                    break
                base = steps[0]
                if base.parent.name == self.root_type_name and self.root_fetches is not None:
                    start = self.root_fetches.get(graph)
                    if start is None:
                        start = self.root_fetches[graph] = self.new_fetch(graph, 0, (), True)
                    assert start.root is not None
                    return start, self._repeat_path(steps, parent, start, start.root)
                if self.sg.resolvable_keys(base.parent.name, graph):
                    try:
                        child, part = self.entity_part(
                            base.fetch,
                            base.parent,
                            base.node.name.value,
                            (graph,),
                            base.target,
                            base.path,
                        )
                    except PlanningError:
                        continue
                    return child, self._repeat_path(steps, parent, child, part.selection)
        return None

    def _repeat_path(
        self,
        steps: list[Step],
        parent: GraphQLObjectType | GraphQLInterfaceType,
        fetch: Fetch,
        start: SelSet,
    ) -> SelSet:
        current = start
        for index, step in enumerate(steps):
            arguments = tuple(step.node.arguments or ())
            for arg in arguments:
                variables_in(arg.value, fetch.variables)
            current.reserved.setdefault(step.key, step.node.name.value)
            sel = current.add(step.key, step.node.name.value, arguments, True)
            assert sel.selection is not None
            current = sel.selection
            runtime = steps[index + 1].parent if index + 1 < len(steps) else parent
            field_def = step.parent.fields.get(step.node.name.value)
            if field_def is not None and get_named_type(field_def.type) is not runtime:
                current.ensure_typename()
                current = current.fragment(runtime.name)
        return current
