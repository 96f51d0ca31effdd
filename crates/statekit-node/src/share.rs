//! The descriptor of a shared store as JavaScript sees it, and its checks.

use napi_derive::napi;
use statekit_core::{Attached, ShareTicket};

use crate::error::{invalid, to_js, Result};

/// What another thread of this process attaches to a shared store with.
#[napi(object)]
pub struct ShareDescriptor {
    /// The store's id within the process.
    pub id: f64,
    /// The store's random token, 16 hexadecimal digits.
    pub token: String,
    /// `"memory"` or `"sled"`.
    pub tier: String,
}

impl From<ShareTicket> for ShareDescriptor {
    fn from(t: ShareTicket) -> Self {
        ShareDescriptor {
            id: t.id as f64,
            token: format!("{:016x}", t.token),
            tier: t.tier.to_string(),
        }
    }
}

/// Attaches to the store a descriptor names: `ERR_STATEKIT_INVALID_ARG` for a
/// malformed or foreign descriptor, `ERR_STATEKIT_CLOSED` once its owner closed it.
pub fn attach(descriptor: &ShareDescriptor) -> Result<(Attached, ShareTicket)> {
    let id = statekit_core::whole_number("a shared-store descriptor's id", descriptor.id, 1)
        .map_err(to_js)?;
    let token = &descriptor.token;
    let parsed = (token.len() == 16)
        .then(|| u64::from_str_radix(token, 16).ok())
        .flatten()
        .ok_or_else(|| {
            invalid(format!(
                "a shared-store descriptor's token must be 16 hexadecimal digits, got {token:?}"
            ))
        })?;
    let attached = Attached::attach(id, parsed).map_err(to_js)?;
    let ticket = attached.ticket();
    if ticket.tier != descriptor.tier {
        return Err(invalid(format!(
            "this descriptor shares a {} store, not a {} one",
            ticket.tier, descriptor.tier
        )));
    }
    Ok((attached, ticket))
}
