//! Stateright's view of the system: `impl Model for LockSystem`, putting together the
//! dynamics (`system.rs`), the properties (`properties.rs`), and the names and pictures the
//! Explorer shows (`trace.rs`, `view.rs`). Kept apart so that the dynamics import none of them.

use crate::system::{Action, LockSystem, SystemState, WHOLE_SPACE};
use stateright::{Model, Property};

impl Model for LockSystem {
    type State = SystemState;
    type Action = Action;

    fn init_states(&self) -> Vec<SystemState> {
        self.initial_states()
    }

    fn actions(&self, s: &SystemState, actions: &mut Vec<Action>) {
        if self.reduce_settled && crate::settled::settled(self, s) {
            return;
        }
        self.enabled_actions(s, actions)
    }

    fn next_state(&self, last: &SystemState, action: Action) -> Option<SystemState> {
        self.step(last, &action).map(|(mut next, _)| {
            if self.reduce_settled {
                crate::settled::drop_dead_messages(self, &mut next);
            }
            next
        })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties = crate::properties::for_setup(&self.setup);
        if self.whole_space {
            properties.push(Property::sometimes(WHOLE_SPACE, |_, _| false));
        }
        properties
    }

    fn format_action(&self, action: &Action) -> String {
        crate::trace::action_label(self, action)
    }

    fn format_step(&self, last: &SystemState, action: Action) -> Option<String> {
        crate::view::outcome(self, last, &action)
    }

    fn as_svg(&self, path: stateright::Path<SystemState, Action>) -> Option<String> {
        Some(crate::view::svg(self, &path.into_vec()))
    }
}
