"""No adapter reaches a collection except through its tenant (an AST check, no servers).

Repositories see their data through `crm_common.mongo.TenantCollection`. Raw access -- a
``db[...]`` / ``self._db[...]`` subscript, an attribute of the database (``db.customers``,
``db.get_collection``), the unscoped `CrossTenant` accessor, a repository's
``all_tenants_collection`` or a pymongo ``AsyncCollection`` -- is allowed only in the functions
listed below, each with the reason it must span tenants. Adding one means adding it here, where
a reviewer sees it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ADAPTERS = sorted(REPO.glob("services/*/src/*/adapters/*.py"))

# "<service>/<module>:<Class>.<function>" -> why it may not be tenant-scoped.
CROSS_TENANT_ALLOWED: dict[str, str] = {
    "customer/files:GridFSFileStore.__init__": (
        "GridFS keeps the tenant in metadata.tenant_id; every method checks it by hand"
    ),
    "customer/files:GridFSPurgeStore.__init__": (
        "background loop: purges the bytes of every tenant's files deleted long enough ago"
    ),
    "customer/jobs:MongoStaleJobs.__init__": (
        "background loop: resumes stale import jobs of every tenant"
    ),
    "customer/migration:pending_derived": (
        "startup migration: is any customer of any tenant stored with older derived fields?"
    ),
    "customer/migration:migrate_derived": (
        "startup migration: finds customers of every tenant with older derived fields (each "
        "is then rewritten through its tenant's repository)"
    ),
    "customer/mongo:MongoCustomerRepository.name_keys": (
        "repairs a name-claim marker of an older release that carries no tenant_id"
    ),
    "engagement/email_notifications:MongoDigestStore.__init__": (
        "background loop: notification digests of every tenant's users whose period ended"
    ),
    "engagement/mongo:MongoReminderStore.__init__": (
        "background loop: due and overdue follow-ups of every tenant"
    ),
    "engagement/webhooks:MongoDeliveryQueue.__init__": (
        "background loop: sends due webhook deliveries of every tenant"
    ),
    "quoting/mongo:MongoQuoteExpiryStore.__init__": (
        "background loop: expires sent quotes of every tenant"
    ),
    "quoting/mongo:MongoOpportunityStallStore.__init__": (
        "background loop: announces stalled opportunities of every tenant"
    ),
    "service_desk/mongo:MongoSlaBreachStore.__init__": (
        "background loop: SLA breaches of every tenant's tickets"
    ),
    "service_desk/improvement:MongoOverdueTaskStore.__init__": (
        "background loop: overdue improvement tasks of every tenant"
    ),
    "service_desk/mongo:MongoSurveyTokens.__init__": (
        "public survey link: the token (not a tenant) finds the survey"
    ),
    "insights/mongo:MongoFactBatchWriter.__init__": (
        "event consumer and replay: one poll carries events of many tenants"
    ),
    "insights/mongo:MongoHealthStore.__init__": (
        "background loop: scores due health records of every tenant"
    ),
    "insights/batch_consumer:BatchLedger.__init__": (
        "the consumer group's processed-event ledger, keyed by event id"
    ),
}

_DB_NAMES = {"db", "_db"}
# What an adapter may use of a database handle besides passing it on.
_DB_ATTRIBUTES_ALLOWED = {"client", "name", "list_collection_names"}
_RAW_NAMES = {"CrossTenant", "AsyncCollection"}
_RAW_ATTRIBUTES = {"all_tenants_collection"}


@dataclass(frozen=True)
class Use:
    where: str
    line: int
    what: str


def _is_db(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _DB_NAMES
    return isinstance(node, ast.Attribute) and node.attr in _DB_NAMES


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.scope: list[str] = []
        self.uses: list[Use] = []

    def _add(self, node: ast.AST, what: str) -> None:
        where = f"{self.module}:{'.'.join(self.scope) or '<module>'}"
        self.uses.append(Use(where, getattr(node, "lineno", 0), what))

    def _scoped(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_db(node.value):
            self._add(node, "db[...]")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if _is_db(node.value) and node.attr not in _DB_ATTRIBUTES_ALLOWED:
            self._add(node, f"db.{node.attr}")
        if node.attr in _RAW_ATTRIBUTES:
            self._add(node, node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in _RAW_NAMES:
            self._add(node, node.id)


def raw_uses(path: Path) -> list[Use]:
    service = path.parents[1].name.removeprefix("crm_")
    finder = _Finder(f"{service}/{path.stem}")
    finder.visit(ast.parse(path.read_text(), filename=str(path)))
    return finder.uses


def test_the_adapters_are_found() -> None:
    services = {path.parents[1].name for path in ADAPTERS}
    assert services >= {
        "crm_customer",
        "crm_engagement",
        "crm_quoting",
        "crm_service_desk",
        "crm_insights",
    }


def test_no_adapter_reaches_a_collection_past_its_tenant() -> None:
    offending = [
        f"{use.where} (line {use.line}): {use.what}"
        for path in ADAPTERS
        for use in raw_uses(path)
        if use.where not in CROSS_TENANT_ALLOWED
    ]
    assert not offending, (
        "unscoped collection access outside the reviewed cross-tenant list; use the "
        "repository's TenantCollection (self.collection / self.tenant_collection(name) / "
        "tenant_collection(db, name, tenant)), or add the function to CROSS_TENANT_ALLOWED "
        "with the reason:\n" + "\n".join(offending)
    )


def test_every_allowed_cross_tenant_function_still_needs_it() -> None:
    used = {use.where for path in ADAPTERS for use in raw_uses(path)}
    assert not set(CROSS_TENANT_ALLOWED) - used, "stale entries in CROSS_TENANT_ALLOWED"


def test_the_check_catches_raw_access(tmp_path: Path) -> None:
    module = tmp_path / "services/x/src/crm_x/adapters/mongo.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "class R:\n"
        "    async def leak(self):\n"
        "        await self._db['customers'].find_one({})\n"
        "        await db.customers.find_one({})\n"
        "        await self.all_tenants_collection.find_one({})\n"
        "        return CrossTenant(db)['x']\n"
    )
    found = {(use.where, use.what) for use in raw_uses(module)}
    assert found == {
        ("x/mongo:R.leak", "db[...]"),
        ("x/mongo:R.leak", "db.customers"),
        ("x/mongo:R.leak", "all_tenants_collection"),
        ("x/mongo:R.leak", "CrossTenant"),
    }
