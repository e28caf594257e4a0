//! Who may do what: the capabilities an application token can carry (Svix's App Portal
//! capabilities, by their names), and the stored record of an issued token. Pure data; the
//! server decides which route needs which capability (api/scope.rs).

use crate::ids::AppId;
use crate::time_fmt::Millis;

/// One thing an application-scoped token may do, with Svix's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Read everything of the application except endpoint secrets.
    ViewBase = 1,
    /// Read endpoint secrets.
    ViewEndpointSecret = 2,
    /// Read and rotate endpoint secrets.
    ManageEndpointSecret = 4,
    /// Change endpoint transformations.
    ManageTransformations = 8,
    /// Send test events, resend, recover and replay.
    CreateAttempts = 16,
    /// Create, change and delete endpoints, secrets included.
    ManageEndpoint = 32,
}

impl Capability {
    pub const ALL: [Self; 6] = [
        Self::ViewBase,
        Self::ViewEndpointSecret,
        Self::ManageEndpointSecret,
        Self::ManageTransformations,
        Self::CreateAttempts,
        Self::ManageEndpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::ViewBase => "ViewBase",
            Self::ViewEndpointSecret => "ViewEndpointSecret",
            Self::ManageEndpointSecret => "ManageEndpointSecret",
            Self::ManageTransformations => "ManageTransformations",
            Self::CreateAttempts => "CreateAttempts",
            Self::ManageEndpoint => "ManageEndpoint",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// Everything an application token can do (the default: no `capabilities`, not read-only).
    pub const ALL: Self = Self(63);
    /// `readOnly: true`.
    pub const READ_ONLY: Self = Self(Capability::ViewBase as u8);

    pub fn contains(self, capability: Capability) -> bool {
        self.0 & capability as u8 != 0
    }

    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    /// The capabilities named, every name checked; `ViewBase` is required, as Svix requires it.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut bits = 0;
        for name in names {
            let capability = Capability::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
                format!("unknown capability {name:?}; known: {}", known.join(", "))
            })?;
            bits |= capability as u8;
        }
        let set = Self(bits);
        if !set.contains(Capability::ViewBase) {
            return Err("ViewBase is always required".into());
        }
        Ok(set)
    }

    pub fn names(self) -> Vec<&'static str> {
        Capability::ALL.into_iter().filter(|c| self.contains(*c)).map(Capability::name).collect()
    }

    /// As stored: the bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From stored bits; bits no capability has are dropped.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & Self::ALL.0)
    }
}

/// What an issued token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An application-scoped API token (the portal's).
    App,
    /// A signed-in dashboard session (the operator's browser cookie).
    Dashboard,
}

impl TokenKind {
    pub fn code(self) -> i64 {
        match self {
            Self::App => 1,
            Self::Dashboard => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::App),
            2 => Some(Self::Dashboard),
            _ => None,
        }
    }
}

/// An issued token as stored: only its SHA-256, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// Lowercase hex SHA-256 of the token.
    pub hash: String,
    pub kind: TokenKind,
    /// The application an application token is scoped to.
    pub app_id: Option<AppId>,
    pub capabilities: Capabilities,
    /// The caller's session id (`sessionId`), for expiring a session's tokens together.
    pub session_id: Option<String>,
    /// Event types carrying any of these feature flags are visible to the token (`featureFlags`).
    pub feature_flags: Vec<String>,
    /// For a dashboard session: the hash of the admin token it was opened with, so changing the
    /// admin token ends every session.
    pub admin_hash: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_by_name() {
        let set = Capabilities::from_names(["ViewBase", "CreateAttempts"]).unwrap();
        assert!(set.contains(Capability::CreateAttempts) && !set.contains(Capability::ManageEndpoint));
        assert_eq!(set.names(), ["ViewBase", "CreateAttempts"]);
        assert_eq!(Capabilities::from_bits(set.bits()), set);
        assert!(Capabilities::from_names(["ManageEndpoint"]).unwrap_err().contains("ViewBase"));
        assert!(Capabilities::from_names(["ViewBase", "Admin"]).unwrap_err().contains("unknown capability \"Admin\""));
        assert_eq!(Capabilities::from_names(Capability::ALL.map(Capability::name)).unwrap(), Capabilities::ALL);
        assert_eq!(Capabilities::READ_ONLY.names(), ["ViewBase"]);
    }
}
