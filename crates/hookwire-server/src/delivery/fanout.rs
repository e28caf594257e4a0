//! Which endpoints of an application receive a message.

use hookwire_core::matching::{channels_match, event_type_matches};
use hookwire_core::model::{Endpoint, Message};

pub fn matching_endpoints(endpoints: Vec<Endpoint>, message: &Message) -> Vec<Endpoint> {
    endpoints
        .into_iter()
        .filter(|e| !e.disabled)
        .filter(|e| event_type_matches(e.event_types.as_deref(), &message.event_type))
        .filter(|e| channels_match(e.channels.as_deref(), message.channels.as_deref()))
        .collect()
}
