//! Supervisor unit tests that need no guest; the real-guest tests live in crates/core/tests/vm_*.rs.
