//! Who may do what: the roles of principals (users and API tokens) and the authorization table,
//! route × role × own or other enterprise. Pure: the caller says who is asking, which route,
//! and whose the target is; [`decide`] says yes or why not.
//!
//! `docs/authorization.md` shows the same table; a test reads it and fails when the two
//! differ. The HTTP edge enforces it in one place (`http::auth`).

use std::fmt;

/// The role of a principal. Custody actors are not principals: they sign their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The platform.
    Operator,
    /// Reads everything but codes; writes nothing.
    Regulator,
    /// An importer's administrator: its own enterprise.
    EnterpriseAdmin,
    /// Warehouse staff: reads its own enterprise's batches and prints their labels.
    LabelPrinter,
}

impl Role {
    /// Every role, in the table's column order.
    pub const ALL: [Role; 4] = [
        Role::Operator,
        Role::Regulator,
        Role::EnterpriseAdmin,
        Role::LabelPrinter,
    ];

    /// The role's name, as in the API and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Regulator => "regulator",
            Role::EnterpriseAdmin => "enterprise_admin",
            Role::LabelPrinter => "label_printer",
        }
    }

    /// Whether the role belongs to one enterprise.
    pub fn is_enterprise_role(self) -> bool {
        matches!(self, Role::EnterpriseAdmin | Role::LabelPrinter)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a role may do on a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Never.
    No,
    /// On any target.
    All,
    /// Only on targets of the principal's own enterprise (a list: narrowed to it).
    Own,
}

/// How the target's enterprise is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The platform's own data; no enterprise owns it.
    Platform,
    /// The answer is a list, narrowed to what the principal may see.
    List,
    /// The enterprise `{id}` in the path.
    PathEnterprise,
    /// The product `{gtin}` in the path.
    PathProduct,
    /// The batch `{id}` in the path.
    PathBatch,
    /// The print job `{id}` in the path.
    PathPrintJob,
    /// The lot `{id}` in the path.
    PathLot,
    /// The complaint `{reference}` in the path.
    PathComplaint,
    /// The body's `enterprise_id`.
    BodyEnterprise,
    /// The body's `gtin`.
    BodyProduct,
    /// The product `{gtin}` in the path and the body's `enterprise_id`: both must be the
    /// principal's (an enterprise cannot hand its product to another).
    PathProductBodyEnterprise,
    /// The API token `{id}` in the path.
    PathToken,
    /// The user `{username}` in the path.
    PathUser,
    /// The principal's own session: every principal may use it.
    Own,
}

impl Owner {
    /// Whether finding the owner needs the request body.
    pub fn needs_body(self) -> bool {
        matches!(
            self,
            Owner::BodyEnterprise | Owner::BodyProduct | Owner::PathProductBodyEnterprise
        )
    }
}

/// A target whose enterprise decides an `own` grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An enterprise, by id.
    Enterprise(u64),
    /// A product, by GTIN (any accepted length).
    Product(String),
    /// A batch, by id.
    Batch(u64),
    /// A print job, by id.
    PrintJob(u64),
    /// A lot, `{gtin14}.{lot}`.
    Lot(String),
    /// A complaint, by reference.
    Complaint(String),
    /// An API token, by id.
    Token(String),
    /// A user, by name.
    User(String),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// HTTP method.
    pub method: &'static str,
    /// The route pattern, as the router matches it.
    pub path: &'static str,
    /// Grants in [`Role::ALL`] order.
    pub grants: [Grant; 4],
    /// How the target's enterprise is found.
    pub owner: Owner,
}

impl Rule {
    /// What `role` may do here.
    pub fn grant(&self, role: Role) -> Grant {
        let i = Role::ALL.iter().position(|r| *r == role).unwrap_or(0);
        self.grants[i]
    }
}

use Grant::{All, No, Own};

const fn rule(method: &'static str, path: &'static str, g: [Grant; 4], owner: Owner) -> Rule {
    Rule {
        method,
        path,
        grants: g,
        owner,
    }
}

/// The authorization table: every route that needs a principal (one row per route; the
/// grants in [`Role::ALL`] order: operator, regulator, enterprise admin, label printer).
#[rustfmt::skip]
pub const TABLE: &[Rule] = &[
    rule("POST", "/api/v1/enterprises", [All, No, No, No], Owner::Platform),
    rule("GET", "/api/v1/enterprises", [All, All, Own, Own], Owner::List),
    rule("GET", "/api/v1/enterprises/{id}", [All, All, Own, Own], Owner::PathEnterprise),
    rule("PUT", "/api/v1/enterprises/{id}", [All, No, No, No], Owner::PathEnterprise),
    rule("PUT", "/api/v1/enterprises/{id}/credit", [All, No, No, No], Owner::PathEnterprise),
    rule("PUT", "/api/v1/enterprises/{id}/grade/override", [All, No, No, No], Owner::PathEnterprise),
    rule("POST", "/api/v1/enterprises/{id}/grade/override/lift", [All, No, No, No], Owner::PathEnterprise),
    rule("GET", "/api/v1/grades", [All, All, No, No], Owner::Platform),
    rule("POST", "/api/v1/enterprises/{id}/engagements", [All, No, Own, No], Owner::PathEnterprise),
    rule("GET", "/api/v1/enterprises/{id}/engagements", [All, All, Own, No], Owner::PathEnterprise),
    rule("POST", "/api/v1/enterprises/{id}/engagements/{actor_id}/end", [All, No, Own, No], Owner::PathEnterprise),
    rule("POST", "/api/v1/products", [All, No, Own, No], Owner::BodyEnterprise),
    rule("GET", "/api/v1/products", [All, All, Own, Own], Owner::List),
    rule("GET", "/api/v1/products/{gtin}", [All, All, Own, Own], Owner::PathProduct),
    rule("PUT", "/api/v1/products/{gtin}", [All, No, Own, No], Owner::PathProductBodyEnterprise),
    rule("POST", "/api/v1/batches", [All, No, Own, No], Owner::BodyProduct),
    rule("GET", "/api/v1/batches/{id}", [All, All, Own, Own], Owner::PathBatch),
    rule("GET", "/api/v1/batches/{id}/codes", [All, No, Own, Own], Owner::PathBatch),
    rule("POST", "/api/v1/batches/{id}/print-jobs", [All, No, Own, Own], Owner::PathBatch),
    rule("GET", "/api/v1/print-jobs/{id}", [All, All, Own, Own], Owner::PathPrintJob),
    rule("GET", "/api/v1/print-jobs/{id}/output", [All, No, Own, Own], Owner::PathPrintJob),
    rule("POST", "/api/v1/lots", [All, No, Own, No], Owner::BodyProduct),
    rule("POST", "/api/v1/lots/{id}/recall", [All, No, No, No], Owner::PathLot),
    rule("POST", "/api/v1/actors", [All, No, No, No], Owner::Platform),
    rule("POST", "/api/v1/actors/{id}/keys", [All, No, No, No], Owner::Platform),
    rule("POST", "/api/v1/actors/{id}/keys/{kid}/revoke", [All, No, No, No], Owner::Platform),
    rule("GET", "/api/v1/actor-requests", [All, No, No, No], Owner::Platform),
    rule("GET", "/api/v1/actor-requests/{fingerprint}", [All, No, No, No], Owner::Platform),
    rule("DELETE", "/api/v1/actor-requests/{fingerprint}", [All, No, No, No], Owner::Platform),
    rule("GET", "/api/v1/complaints", [All, All, Own, No], Owner::List),
    rule("GET", "/api/v1/complaints/{reference}", [All, All, Own, No], Owner::PathComplaint),
    rule("PATCH", "/api/v1/complaints/{reference}", [All, No, No, No], Owner::PathComplaint),
    rule("POST", "/api/v1/complaints/{reference}/referral", [All, No, No, No], Owner::PathComplaint),
    rule("POST", "/api/v1/complaints/{reference}/referral/outcome", [All, No, No, No], Owner::PathComplaint),
    rule("GET", "/api/v1/scans/forged", [All, All, No, No], Owner::Platform),
    rule("POST", "/api/v1/tokens", [All, No, Own, No], Owner::BodyEnterprise),
    rule("GET", "/api/v1/tokens", [All, No, Own, No], Owner::List),
    rule("POST", "/api/v1/tokens/{id}/revoke", [All, No, Own, No], Owner::PathToken),
    rule("POST", "/api/v1/users", [All, No, Own, No], Owner::BodyEnterprise),
    rule("GET", "/api/v1/users", [All, No, Own, No], Owner::List),
    rule("POST", "/api/v1/users/{username}/disable", [All, No, Own, No], Owner::PathUser),
    rule("POST", "/api/v1/users/{username}/password", [All, No, Own, No], Owner::PathUser),
    rule("GET", "/api/v1/audit", [All, All, Own, No], Owner::List),
    rule("GET", "/api/v1/session", [All, All, All, All], Owner::Own),
    rule("DELETE", "/api/v1/session", [All, All, All, All], Owner::Own),
    rule("POST", "/api/v1/session/password", [All, All, All, All], Owner::Own),
    rule("GET", "/metrics", [All, No, No, No], Owner::Platform),
];

/// The rule of a route, if it needs a principal.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    TABLE.iter().find(|r| r.method == method && r.path == path)
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user name or the token id.
    pub id: String,
    /// The principal's role.
    pub role: Role,
    /// The enterprise of an enterprise role.
    pub enterprise: Option<u64>,
    /// The request this principal makes: its request id (`X-Request-Id`), which log leaves
    /// and the audit trail name. Empty until the edge assigns it.
    pub request: String,
}

impl Principal {
    /// A principal, its request not yet named.
    pub fn new(id: impl Into<String>, role: Role, enterprise: Option<u64>) -> Self {
        Principal {
            id: id.into(),
            role,
            enterprise,
            request: String::new(),
        }
    }

    /// The operator acting through the CLI on the data directory; its request id is
    /// `cli-` and 12 random hex characters.
    pub fn cli() -> Self {
        let mut b = [0u8; 6];
        let _ = getrandom::getrandom(&mut b);
        let mut p = Principal::new("cli", Role::Operator, None);
        p.request = format!("cli-{}", crate::custody::record::hex(&b));
        p
    }
}

/// The answer to a request the table refuses (HTTP 403), with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The role may never use this route.
    #[error("a {role} may not {method} {path}")]
    Role {
        /// The principal's role.
        role: Role,
        /// The route's method.
        method: &'static str,
        /// The route's pattern.
        path: &'static str,
    },
    /// The target belongs to another enterprise than the principal's.
    #[error(
        "this belongs to enterprise {owner}; a {role} of enterprise {own} may act only on its own"
    )]
    OtherEnterprise {
        /// The principal's role.
        role: Role,
        /// The principal's enterprise.
        own: u64,
        /// The target's enterprise.
        owner: u64,
    },
    /// The target's enterprise is not known (an unregistered product, say), so it is not the
    /// principal's.
    #[error("a {role} may act only on its own enterprise's data, and this has no enterprise")]
    NoOwner {
        /// The principal's role.
        role: Role,
    },
    /// An enterprise role without its enterprise (a bad account record).
    #[error("this {role} account names no enterprise")]
    NoEnterprise {
        /// The principal's role.
        role: Role,
    },
}

/// What the request may see or do once allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Everything the route gives.
    Everything,
    /// Only the data of this enterprise (lists narrowed to it).
    Enterprise(u64),
}

impl Allowed {
    /// The one enterprise the answer is narrowed to, if any.
    pub fn only(self) -> Option<u64> {
        match self {
            Allowed::Everything => None,
            Allowed::Enterprise(e) => Some(e),
        }
    }
}

/// Whether `p` may use `rule` on a target owned by `owner` (`None`: no enterprise owns it, or
/// the route is a list). Lists and platform routes need no owner.
pub fn decide(p: &Principal, rule: &Rule, owner: Option<u64>) -> Result<Allowed, Refusal> {
    match rule.grant(p.role) {
        Grant::No => Err(Refusal::Role {
            role: p.role,
            method: rule.method,
            path: rule.path,
        }),
        Grant::All => Ok(Allowed::Everything),
        Grant::Own => {
            let own = p.enterprise.ok_or(Refusal::NoEnterprise { role: p.role })?;
            match (rule.owner, owner) {
                (Owner::List, _) => Ok(Allowed::Enterprise(own)),
                (_, Some(o)) if o == own => Ok(Allowed::Enterprise(own)),
                (_, Some(o)) => Err(Refusal::OtherEnterprise {
                    role: p.role,
                    own,
                    owner: o,
                }),
                (_, None) => Err(Refusal::NoOwner { role: p.role }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, enterprise: Option<u64>) -> Principal {
        Principal::new("t", role, enterprise)
    }

    fn cell(g: Grant) -> &'static str {
        match g {
            Grant::No => "—",
            Grant::All => "all",
            Grant::Own => "own",
        }
    }

    fn owner_text(o: Owner) -> &'static str {
        match o {
            Owner::Platform => "platform",
            Owner::List => "list",
            Owner::PathEnterprise => "path enterprise",
            Owner::PathProduct => "path product",
            Owner::PathBatch => "path batch",
            Owner::PathPrintJob => "path print job",
            Owner::PathLot => "path lot",
            Owner::PathComplaint => "path complaint",
            Owner::BodyEnterprise => "body enterprise",
            Owner::BodyProduct => "body product",
            Owner::PathProductBodyEnterprise => "path product + body enterprise",
            Owner::PathToken => "path token",
            Owner::PathUser => "path user",
            Owner::Own => "own session",
        }
    }

    /// The table's rows as `docs/authorization.md` writes them.
    fn rows_in_code() -> Vec<String> {
        TABLE
            .iter()
            .map(|r| {
                let g: Vec<&str> = r.grants.iter().map(|g| cell(*g)).collect();
                format!(
                    "| `{} {}` | {} | {} |",
                    r.method,
                    r.path,
                    g.join(" | "),
                    owner_text(r.owner)
                )
            })
            .collect()
    }

    #[test]
    fn the_docs_table_is_the_code_table() {
        let docs = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/authorization.md"
        ))
        .unwrap();
        let table = docs.split("## The table").nth(1).unwrap();
        let in_docs: Vec<String> = table
            .lines()
            .filter(|l| l.starts_with("| `") && l.contains(" /"))
            .map(str::to_string)
            .collect();
        assert_eq!(in_docs, rows_in_code());
    }

    #[test]
    fn every_route_is_listed_once() {
        for (i, r) in TABLE.iter().enumerate() {
            assert_eq!(
                TABLE
                    .iter()
                    .position(|x| x.method == r.method && x.path == r.path),
                Some(i),
                "{} {} twice",
                r.method,
                r.path
            );
            assert_eq!(rule_for(r.method, r.path).map(|x| x.path), Some(r.path));
        }
        assert!(rule_for("GET", "/api/v1/verify").is_none(), "public");
    }

    #[test]
    fn the_operator_may_do_everything_and_the_regulator_writes_nothing() {
        for r in TABLE {
            let op = decide(&principal(Role::Operator, None), r, Some(9));
            assert_eq!(op, Ok(Allowed::Everything), "{} {}", r.method, r.path);
            let reg = decide(&principal(Role::Regulator, None), r, Some(9));
            // Its own session (sign-out, password) is the one thing a regulator changes.
            if r.method != "GET" && r.owner != Owner::Own {
                assert!(
                    matches!(reg, Err(Refusal::Role { .. })),
                    "{} {}",
                    r.method,
                    r.path
                );
            }
        }
    }

    #[test]
    fn no_one_but_the_operator_and_the_enterprise_reads_codes() {
        for path in [
            "/api/v1/batches/{id}/codes",
            "/api/v1/print-jobs/{id}/output",
        ] {
            let r = rule_for("GET", path).unwrap();
            let reg = decide(&principal(Role::Regulator, None), r, Some(1));
            assert_eq!(
                reg.unwrap_err().to_string(),
                format!("a regulator may not GET {path}")
            );
        }
    }

    #[test]
    fn enterprise_roles_reach_their_own_enterprise_only() {
        let batch = rule_for("GET", "/api/v1/batches/{id}").unwrap();
        let printer = principal(Role::LabelPrinter, Some(5));
        assert_eq!(decide(&printer, batch, Some(5)), Ok(Allowed::Enterprise(5)));
        let other = decide(&printer, batch, Some(6)).unwrap_err();
        assert_eq!(
            other.to_string(),
            "this belongs to enterprise 6; a label_printer of enterprise 5 may act only on its own"
        );
        assert_eq!(
            decide(&printer, batch, None),
            Err(Refusal::NoOwner {
                role: Role::LabelPrinter
            })
        );
        let list = rule_for("GET", "/api/v1/products").unwrap();
        assert_eq!(decide(&printer, list, None), Ok(Allowed::Enterprise(5)));
        let broken = principal(Role::EnterpriseAdmin, None);
        assert!(matches!(
            decide(&broken, batch, Some(5)),
            Err(Refusal::NoEnterprise { .. })
        ));
    }

    #[test]
    fn a_label_printer_gets_403_on_recalls_credit_and_other_writes() {
        let printer = principal(Role::LabelPrinter, Some(5));
        let mut allowed = Vec::new();
        for r in TABLE {
            if decide(&printer, r, Some(5)).is_ok() {
                allowed.push(format!("{} {}", r.method, r.path));
            }
        }
        assert_eq!(
            allowed,
            [
                "GET /api/v1/enterprises",
                "GET /api/v1/enterprises/{id}",
                "GET /api/v1/products",
                "GET /api/v1/products/{gtin}",
                "GET /api/v1/batches/{id}",
                "GET /api/v1/batches/{id}/codes",
                "POST /api/v1/batches/{id}/print-jobs",
                "GET /api/v1/print-jobs/{id}",
                "GET /api/v1/print-jobs/{id}/output",
                "GET /api/v1/session",
                "DELETE /api/v1/session",
                "POST /api/v1/session/password",
            ]
        );
    }
}
