//! One store shared by every thread of the process.
//!
//! The handle that opened a store owns it. [`Store::share`] registers it in a
//! process-wide table and returns a [`ShareTicket`] (an id and a random token, plain
//! data a JavaScript thread can pass to another); [`Attached::attach`] in any thread
//! of the same process returns a handle on the same data. The owner's
//! [`Sharing::revoke`] (on close, or when the owner is dropped) takes the store out of
//! the table and out of every attached handle at once: their next call is
//! `ERR_STATEKIT_CLOSED`, and the owner's close, which waits for the last handle,
//! waits only for the calls already running.
//!
//! Attached handles load the store through an `ArcSwapOption`, whose loads write to a
//! slot of the loading thread's own instead of a reference count every thread shares,
//! so threads calling at once do not contend on one cache line.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwapOption;

use super::Store;
use crate::error::{Error, ErrorCode, Result};

/// What another thread needs to attach to a shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareTicket {
    /// The store's id within this process.
    pub id: u64,
    /// A random secret of the store: a ticket with the wrong one is refused.
    pub token: u64,
    /// `"memory"` or `"sled"`.
    pub tier: &'static str,
}

struct Slot {
    ticket: ShareTicket,
    store: ArcSwapOption<Store>,
}

/// The shared stores of the process, by id.
fn registry() -> &'static Mutex<HashMap<u64, Arc<Slot>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<u64, Arc<Slot>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Ids handed out so far: an id below it that is not registered was a store that has
/// closed since.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn random_token() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn no_registry() -> Error {
    Error::new(ErrorCode::Io, "the table of shared stores is unusable")
}

/// The owner's side of a shared store.
pub struct Sharing {
    slot: Arc<Slot>,
}

impl Store {
    /// Registers this store for other threads of the process; the owner keeps the
    /// returned [`Sharing`] and revokes it when it closes.
    pub fn share(&self) -> Result<Sharing> {
        let id = NEXT_ID.fetch_add(1, SeqCst);
        let slot = Arc::new(Slot {
            ticket: ShareTicket {
                id,
                token: random_token(),
                tier: self.tier_name(),
            },
            store: ArcSwapOption::from_pointee(self.clone()),
        });
        registry()
            .lock()
            .map_err(|_| no_registry())?
            .insert(id, Arc::clone(&slot));
        Ok(Sharing { slot })
    }
}

impl Sharing {
    /// The ticket other threads attach with.
    pub fn ticket(&self) -> ShareTicket {
        self.slot.ticket.clone()
    }

    /// Ends the sharing: the store leaves the table, and every attached handle's next
    /// call is `ERR_STATEKIT_CLOSED`. Calls already running finish on the store.
    pub fn revoke(&self) {
        if let Ok(mut table) = registry().lock() {
            table.remove(&self.slot.ticket.id);
        }
        self.slot.store.store(None);
    }
}

impl Drop for Sharing {
    fn drop(&mut self) {
        self.revoke();
    }
}

/// A handle on a store another thread shared.
#[derive(Clone)]
pub struct Attached {
    slot: Arc<Slot>,
}

impl Attached {
    /// Attaches to the store of `ticket`: `ERR_STATEKIT_CLOSED` if its owner closed
    /// it, `ERR_STATEKIT_INVALID_ARG` if no store of this process ever had this id and
    /// token (a ticket from another process, or a forged one).
    pub fn attach(id: u64, token: u64) -> Result<Attached> {
        let found = registry()
            .lock()
            .map_err(|_| no_registry())?
            .get(&id)
            .cloned();
        match found {
            Some(slot) if slot.ticket.token == token => {
                if slot.store.load().is_none() {
                    return Err(Error::closed());
                }
                Ok(Attached { slot })
            }
            Some(_) => Err(Error::invalid_arg(
                "this shared-store descriptor's token does not match the store's: it was not made by share() in this process",
            )),
            None if id != 0 && id < NEXT_ID.load(SeqCst) => Err(Error::new(
                ErrorCode::Closed,
                "the store this descriptor shares has been closed by its owner",
            )),
            None => Err(Error::invalid_arg(
                "no store of this process was shared with this descriptor (it comes from another process, or was forged)",
            )),
        }
    }

    /// The ticket this handle attached with.
    pub fn ticket(&self) -> ShareTicket {
        self.slot.ticket.clone()
    }

    /// Runs `f` on the store, or fails with `ERR_STATEKIT_CLOSED` once its owner
    /// closed it.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&Store) -> R) -> Result<R> {
        match &*self.slot.store.load() {
            Some(store) => Ok(f(store)),
            None => Err(Error::closed()),
        }
    }

    /// Another handle on the store (one that keeps it open while held), or
    /// `ERR_STATEKIT_CLOSED`.
    pub fn store(&self) -> Result<Store> {
        self.with(Store::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttl::Ttl;

    #[test]
    fn attached_handles_see_the_owners_writes_until_it_revokes() {
        let store = Store::memory(Ttl::Never);
        let sharing = store.share().unwrap();
        let t = sharing.ticket();
        let attached = Attached::attach(t.id, t.token).unwrap();
        store.put(b"k", b"v", Ttl::Default).unwrap();
        let seen = attached.with(|s| s.get_with(b"k", |v| v.to_vec()).unwrap());
        assert_eq!(seen.unwrap(), Some(b"v".to_vec()));
        sharing.revoke();
        assert_eq!(attached.with(|_| ()).unwrap_err().code, ErrorCode::Closed);
        let again = Attached::attach(t.id, t.token).err().unwrap();
        assert_eq!(again.code, ErrorCode::Closed);
    }

    #[test]
    fn a_wrong_token_or_an_unknown_id_is_refused() {
        let store = Store::memory(Ttl::Never);
        let sharing = store.share().unwrap();
        let t = sharing.ticket();
        let wrong = Attached::attach(t.id, t.token ^ 1).err().unwrap();
        assert_eq!(wrong.code, ErrorCode::InvalidArg);
        let unknown = Attached::attach(u64::MAX, t.token).err().unwrap();
        assert_eq!(unknown.code, ErrorCode::InvalidArg);
        let zero = Attached::attach(0, t.token).err().unwrap();
        assert_eq!(zero.code, ErrorCode::InvalidArg);
    }
}
