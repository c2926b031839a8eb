//! Who may use a route, and how a refusal is answered: the route table
//! (`routes`) says it of every route, the guard (`auth`) enforces it.

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    User,
    Admin,
}

/// How a refusal is answered: the API with JSON 401/403, pages with a
/// redirect to the login page (or 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}
