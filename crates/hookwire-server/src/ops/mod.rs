//! Operations that run on their own beside the request handlers: Hookwire's operational events
//! (events.rs), turned into ordinary messages through the intake.

pub mod events;
