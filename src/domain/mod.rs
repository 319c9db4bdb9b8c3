//! Pure domain types and rules: no I/O, no axum, no sqlx.

pub mod coords;
pub mod observation;
pub mod site;
pub mod stake;
