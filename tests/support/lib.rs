//! Shared helpers for the privileged integration tests.
