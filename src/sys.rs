//! Thin safe wrappers over the few libc calls postie needs.
