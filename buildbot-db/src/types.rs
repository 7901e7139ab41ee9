//! Small domain types shared by every layer: id newtypes and result codes.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {
        $(
            #[$doc]
            #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
            pub struct $name(pub i64);

            impl fmt::Display for $name {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    self.0.fmt(f)
                }
            }

            impl From<i64> for $name {
                fn from(v: i64) -> Self {
                    Self(v)
                }
            }

            impl From<$name> for i64 {
                fn from(v: $name) -> i64 {
                    v.0
                }
            }
        )*
    };
}

id_type! {
    /// `masters.id`
    MasterId,
    /// `builders.id`
    BuilderId,
    /// `workers.id`
    WorkerId,
    /// `builds.id` (global build id, not the per-builder number)
    BuildId,
    /// `steps.id`
    StepId,
    /// `logs.id`
    LogId,
    /// `buildsets.id`
    BuildsetId,
    /// `buildrequests.id`
    BuildRequestId,
    /// `changes.changeid`
    ChangeId,
    /// `sourcestamps.id`
    SourceStampId,
    /// `schedulers.id`
    SchedulerId,
    /// `changesources.id`
    ChangeSourceId,
    /// `objects.id` (key/value state store owner)
    ObjectId,
    /// `users.uid`
    UserId,
    /// `tags.id`
    TagId,
    /// `projects.id`
    ProjectId,
    /// `patches.id`
    PatchId,
    /// `test_result_sets.id`
    TestResultSetId,
}

/// Buildbot's result codes (`spec/data-model.md` §5.1), stored as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Results {
    /// 0
    Success,
    /// 1
    Warnings,
    /// 2
    Failure,
    /// 3
    Skipped,
    /// 4
    Exception,
    /// 5
    Retry,
    /// 6
    Cancelled,
}

impl Results {
    /// Every result, in code order.
    pub const ALL: [Results; 7] = [
        Results::Success,
        Results::Warnings,
        Results::Failure,
        Results::Skipped,
        Results::Exception,
        Results::Retry,
        Results::Cancelled,
    ];

    /// The integer stored in the database and sent over the REST API.
    pub fn code(self) -> i32 {
        match self {
            Results::Success => 0,
            Results::Warnings => 1,
            Results::Failure => 2,
            Results::Skipped => 3,
            Results::Exception => 4,
            Results::Retry => 5,
            Results::Cancelled => 6,
        }
    }

    /// The result for a stored integer; `None` for anything that is not a result code
    /// (including the `-1` "pending" marker of buildsets and build requests).
    pub fn from_code(code: i64) -> Option<Results> {
        Results::ALL
            .into_iter()
            .find(|r| i64::from(r.code()) == code)
    }

    /// Lower-case name as Buildbot prints it (`success`, `warnings`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Results::Success => "success",
            Results::Warnings => "warnings",
            Results::Failure => "failure",
            Results::Skipped => "skipped",
            Results::Exception => "exception",
            Results::Retry => "retry",
            Results::Cancelled => "cancelled",
        }
    }

    /// Rank for "worst status" (higher is worse): CANCELLED > RETRY > EXCEPTION > FAILURE >
    /// WARNINGS > SUCCESS > SKIPPED.
    fn badness(self) -> u8 {
        match self {
            Results::Skipped => 0,
            Results::Success => 1,
            Results::Warnings => 2,
            Results::Failure => 3,
            Results::Exception => 4,
            Results::Retry => 5,
            Results::Cancelled => 6,
        }
    }

    /// The worse of two results (Buildbot's `worst_status`).
    pub fn worst(self, other: Results) -> Results {
        if other.badness() > self.badness() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Results {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_pending_is_not_a_result() {
        for r in Results::ALL {
            assert_eq!(Results::from_code(i64::from(r.code())), Some(r));
        }
        assert_eq!(Results::from_code(-1), None);
        assert_eq!(Results::from_code(7), None);
    }

    #[test]
    fn worst_follows_buildbot_order() {
        assert_eq!(Results::Success.worst(Results::Skipped), Results::Success);
        assert_eq!(Results::Warnings.worst(Results::Failure), Results::Failure);
        assert_eq!(Results::Cancelled.worst(Results::Retry), Results::Cancelled);
        assert_eq!(
            Results::Exception.worst(Results::Failure),
            Results::Exception
        );
    }
}
