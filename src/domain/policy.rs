//! The county's configurable rules (DOMAIN.md §6): default remediation deadlines and the look-back policy.
//! Settings of the server, used by the HTTP handlers, the look-back planner and the demo alike.

use super::site::{HazardLevel, RectificationMode};

/// Default remediation deadlines (DOMAIN.md §6, configurable): immediate ≤ 3 days, general ≤ 30,
/// significant ≤ 90; a major hazard follows its approved plan, so its deadline must be given.
#[derive(Debug, Clone)]
pub struct DeadlinePolicy {
    pub immediate_days: u64,
    pub general_days: u64,
    pub significant_days: u64,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        DeadlinePolicy { immediate_days: 3, general_days: 30, significant_days: 90 }
    }
}

impl DeadlinePolicy {
    /// Days from dispatch to the default deadline, or `None` when it must be given.
    pub fn default_days(&self, hazard_level: HazardLevel, rectification_mode: RectificationMode) -> Option<u64> {
        match (rectification_mode, hazard_level) {
            (RectificationMode::Immediate, _) => Some(self.immediate_days),
            (_, HazardLevel::General) => Some(self.general_days),
            (_, HazardLevel::Significant) => Some(self.significant_days),
            (_, HazardLevel::Major) => None,
        }
    }

    /// Days from a relapse (反弹) to the reopened site's new deadline: the default for its level and mode, and
    /// for a major hazard, whose deadline follows an approved plan nobody has re-approved yet, the longest
    /// default. The dispatcher moves it through an extension if the plan says otherwise.
    pub fn relapse_days(
        &self,
        hazard_level: Option<HazardLevel>,
        rectification_mode: Option<RectificationMode>,
    ) -> u64 {
        self.default_days(
            hazard_level.unwrap_or(HazardLevel::General),
            rectification_mode.unwrap_or(RectificationMode::Deadline),
        )
        .unwrap_or(self.significant_days.max(self.general_days))
    }
}

/// Look-back (回头看): every major or supervised closed site once a quarter, and a deterministic sample of the
/// other closed sites each month (DOMAIN.md §6, configurable).
#[derive(Debug, Clone)]
pub struct LookBackPolicy {
    /// Major or supervised sites are looked at again when their last look-back (or closure) is this old.
    pub major_interval_days: i32,
    /// Other closed sites: percentage sampled each month, 0–100.
    pub sample_percent: i32,
    /// Other closed sites are sampled when closed (or last looked at) at least this long ago.
    pub sample_min_age_days: i32,
    /// Days from planning to the task's due date.
    pub due_in_days: i32,
}

impl Default for LookBackPolicy {
    fn default() -> Self {
        LookBackPolicy { major_interval_days: 90, sample_percent: 10, sample_min_age_days: 30, due_in_days: 14 }
    }
}
