//! Custom strategies by name, so that spec files and checkpoints naming one can be read.
//!
//! A spec file stores a custom strategy as its name only (`kind = "custom", strategy =
//! "window_blocks"`): the strategy is Rust code, which a file cannot carry. A program that
//! defines strategies registers them before it reads such files; any other program (the
//! `tessera` binary included) refuses the file with a message naming the strategy. The registry
//! needs the `std` feature (a lock); without it every such file is refused.
use super::CustomStrategy;
use alloc::vec::Vec;

/// A different strategy is already registered under this name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameTaken {
    pub name: &'static str,
}

impl core::fmt::Display for NameTaken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "another masking strategy with different invariants is registered as `{}`",
            self.name
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NameTaken {}

#[cfg(feature = "std")]
static REGISTRY: std::sync::RwLock<Vec<CustomStrategy>> = std::sync::RwLock::new(Vec::new());

/// Makes `strategy` known to spec files and checkpoints read by this program. Registering the
/// same strategy twice is harmless; another one under a taken name is refused.
#[cfg(feature = "std")]
pub fn register(strategy: CustomStrategy) -> Result<(), NameTaken> {
    // A poisoned lock only means another thread panicked while holding it; the list is
    // still whole (pushes are the only writes).
    let mut known = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    match known.iter().find(|s| s.name == strategy.name) {
        Some(s) if *s == strategy => Ok(()),
        Some(_) => Err(NameTaken {
            name: strategy.name,
        }),
        None => {
            known.push(strategy);
            Ok(())
        }
    }
}

/// The registered strategy called `name`.
pub fn lookup(name: &str) -> Option<CustomStrategy> {
    #[cfg(feature = "std")]
    {
        let known = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        known.iter().find(|s| s.name == name).copied()
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = name;
        None
    }
}

/// Names of the registered strategies, in registration order.
pub fn registered() -> Vec<&'static str> {
    #[cfg(feature = "std")]
    {
        let known = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
        known.iter().map(|s| s.name).collect()
    }
    #[cfg(not(feature = "std"))]
    {
        Vec::new()
    }
}

/// A custom strategy in files: its name, looked up in the registry when read.
#[cfg(feature = "serde")]
pub(crate) mod by_name {
    use super::{lookup, registered, CustomStrategy};
    use alloc::string::String;
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &CustomStrategy, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.name)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CustomStrategy, D::Error> {
        let name = String::deserialize(d)?;
        lookup(&name).ok_or_else(|| {
            let known = registered();
            let known = if known.is_empty() {
                String::from("none")
            } else {
                known.join(", ")
            };
            de::Error::custom(alloc::format!(
                "custom masking strategy `{name}` is not known to this program: a custom \
                 strategy is Rust code, so only a program that defines it and registers it \
                 (tessera_dsl::mask::register) before reading the file can use this spec \
                 (registered: {known})"
            ))
        })
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::mask::{Invariant, Layout, Mask, MaskError, Unit};
    use crate::{rng::Rng, Ratio};

    fn keep_first(layout: &Layout, ratio: Ratio, _: &mut Rng) -> Result<Mask, MaskError> {
        let len = layout.tokens()?;
        Mask::from_shuffle((0..len).collect(), ratio.keep_of(len))
    }

    #[test]
    fn names_are_registered_once() {
        let a = CustomStrategy::new(
            "registry_test_first",
            &[Invariant::KeepsFloor(Unit::Whole)],
            keep_first,
        );
        let b = CustomStrategy::new(
            "registry_test_first",
            &[Invariant::MasksFloor(Unit::Whole)],
            keep_first,
        );
        assert_eq!(lookup("registry_test_first"), None);
        assert_eq!(register(a), Ok(()));
        assert_eq!(register(a), Ok(()));
        assert_eq!(
            register(b),
            Err(NameTaken {
                name: "registry_test_first"
            })
        );
        assert_eq!(lookup("registry_test_first"), Some(a));
        assert!(registered().contains(&"registry_test_first"));
    }
}
