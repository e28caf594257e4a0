//! Operations that run on their own beside the request handlers: Hookwire's operational events
//! (events.rs), turned into ordinary messages through the intake, and background tasks
//! (tasks.rs: replays and recoveries run in batches through the intake).

pub mod events;
pub mod fifo;
pub mod tasks;
