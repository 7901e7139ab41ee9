//! How step results combine into a build result, and the summary texts Buildbot writes into
//! `steps.state_string` and `builds.state_string` (`spec/data-model.md` §5.1–§5.2).

use buildbot_db::Results;
use serde_json::Value;

/// A step's result flags (Buildbot's `ResultComputingConfigMixin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResultFlags {
    /// FAILURE makes the build fail (default true).
    pub flunk_on_failure: bool,
    /// FAILURE makes the build WARNINGS.
    pub warn_on_failure: bool,
    /// FAILURE stops the build.
    pub halt_on_failure: bool,
    /// WARNINGS count as WARNINGS (otherwise as SUCCESS).
    pub warn_on_warnings: bool,
    /// WARNINGS make the build fail.
    pub flunk_on_warnings: bool,
}

impl Default for ResultFlags {
    fn default() -> Self {
        ResultFlags {
            flunk_on_failure: true,
            warn_on_failure: false,
            halt_on_failure: false,
            warn_on_warnings: false,
            flunk_on_warnings: false,
        }
    }
}

impl ResultFlags {
    /// Buildbot's default `updateBuildSummaryPolicy`: EXCEPTION, RETRY, CANCELLED, plus
    /// FAILURE when the step flunks/halts/warns on failure, plus WARNINGS when it warns or
    /// flunks on warnings.
    pub fn default_summary_policy(&self) -> Vec<Results> {
        let mut p = vec![Results::Exception, Results::Retry, Results::Cancelled];
        if self.flunk_on_failure || self.halt_on_failure || self.warn_on_failure {
            p.push(Results::Failure);
        }
        if self.warn_on_warnings || self.flunk_on_warnings {
            p.push(Results::Warnings);
        }
        p
    }
}

/// Buildbot's `computeResultAndTermination`: merges a step's result into the build's result
/// so far; the boolean says whether the build must stop (halt on failure, or EXCEPTION /
/// RETRY / CANCELLED).
pub fn compute_result_and_termination(
    flags: &ResultFlags,
    step_result: Results,
    previous: Results,
) -> (Results, bool) {
    let mut overall = step_result;
    let mut terminate = false;
    match step_result {
        Results::Failure => {
            if !flags.flunk_on_failure {
                overall = Results::Success;
            }
            if flags.warn_on_failure {
                overall = Results::Warnings;
            }
            if flags.flunk_on_failure {
                overall = Results::Failure;
            }
            if flags.halt_on_failure {
                terminate = true;
            }
        }
        Results::Warnings => {
            overall = if flags.warn_on_warnings {
                Results::Warnings
            } else {
                Results::Success
            };
            if flags.flunk_on_warnings {
                overall = Results::Failure;
            }
        }
        Results::Exception | Results::Retry | Results::Cancelled => terminate = true,
        _ => {}
    }
    (previous.worst(overall), terminate)
}

/// A step's text options (`description`, `descriptionDone`, `descriptionSuffix`), each a list
/// of words joined with spaces (Buildbot's `join_list`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepDescription {
    /// Shown while running.
    pub description: Option<Vec<String>>,
    /// Shown when done.
    pub description_done: Option<Vec<String>>,
    /// Appended to either.
    pub description_suffix: Option<Vec<String>>,
}

/// Why a step's summary got an extra note.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepEnding {
    /// The command timed out.
    pub timed_out: bool,
    /// The log hit `max_lines`.
    pub max_lines_reached: bool,
}

/// `BuildStep.getCurrentSummary`: description + suffix, or `running`.
pub fn step_current_summary(d: &StepDescription) -> String {
    match &d.description {
        Some(desc) => with_suffix(desc.join(" "), d),
        None => "running".to_owned(),
    }
}

fn with_suffix(mut s: String, d: &StepDescription) -> String {
    if let Some(sfx) = &d.description_suffix
        && !sfx.is_empty()
    {
        s.push(' ');
        s.push_str(&sfx.join(" "));
    }
    s
}

/// `BuildStep.getResultSummary`: `descriptionDone` (or `description`, or `finished`) +
/// suffix, then ` (<result>)` unless SUCCESS, then ` (timed out)` / ` (max lines reached)`.
pub fn step_result_summary(d: &StepDescription, result: Results, ending: StepEnding) -> String {
    let mut s = match d.description_done.as_ref().or(d.description.as_ref()) {
        Some(words) => with_suffix(words.join(" "), d),
        None => "finished".to_owned(),
    };
    if result != Results::Success {
        s.push_str(&format!(" ({result})"));
        if ending.timed_out {
            s.push_str(" (timed out)");
        } else if ending.max_lines_reached {
            s.push_str(" (max lines reached)");
        }
    }
    s
}

/// Buildbot's `command_to_string`: a shell command abbreviated to its first two words:
/// `'make'`, `'make test'`, `'sh -c ...'`. `None` for an empty command.
pub fn command_to_string(command: &Value) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    fn flatten(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
            Value::String(s) => out.push(s.clone()),
            other => out.push(crate::master::properties::python_str(other)),
        }
    }
    match command {
        Value::String(s) => words.extend(s.split_whitespace().map(str::to_owned)),
        Value::Array(_) => flatten(command, &mut words),
        _ => return None,
    }
    if words.is_empty() {
        return None;
    }
    Some(if words.len() < 3 {
        format!("'{}'", words.join(" "))
    } else {
        format!("'{} ...'", words[..2].join(" "))
    })
}

/// `ShellCommand.getResultSummary`: with `descriptionDone` the generic summary; otherwise
/// the abbreviated command + ` (<result>)` unless SUCCESS + ` (timed out)` / ` (max lines)`.
pub fn shell_result_summary(
    d: &StepDescription,
    command: &Value,
    result: Results,
    ending: StepEnding,
) -> String {
    if d.description_done.is_none()
        && let Some(mut s) = command_to_string(command)
    {
        if result != Results::Success {
            s.push_str(&format!(" ({result})"));
            if ending.timed_out {
                s.push_str(" (timed out)");
            } else if ending.max_lines_reached {
                s.push_str(" (max lines)");
            }
        }
        return s;
    }
    step_result_summary(d, result, ending)
}

/// The build's final `state_string` (`Build.allStepsDone`): `build successful` / `failed` /
/// `warnings` / `exception` / `retry` / `cancelled`, then `(<stop reason>)` if the build was
/// stopped, then the texts contributed by steps, joined with single spaces.
pub fn build_final_text(
    result: Results,
    stopped_reason: Option<&str>,
    step_texts: &[String],
) -> String {
    let mut words: Vec<String> = match result {
        Results::Failure => vec!["failed".into()],
        Results::Warnings => vec!["warnings".into()],
        Results::Exception => vec!["exception".into()],
        Results::Retry => vec!["retry".into()],
        Results::Cancelled => vec!["cancelled".into()],
        _ => vec!["build".into(), "successful".into()],
    };
    if let Some(r) = stopped_reason {
        words.push(format!("({r})"));
    }
    words.extend(step_texts.iter().cloned());
    words.join(" ")
}

/// Whether a step's summary goes into the build's text (its result is in the policy).
pub fn contributes_to_build_summary(policy: &[Results], result: Results) -> bool {
    policy.contains(&result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Results::*;
    use serde_json::json;

    #[test]
    fn flags_merge_like_buildbot() {
        let d = ResultFlags::default();
        assert_eq!(
            compute_result_and_termination(&d, Failure, Success),
            (Failure, false)
        );
        assert_eq!(
            compute_result_and_termination(&d, Warnings, Success),
            (Success, false)
        );
        let warn = ResultFlags {
            flunk_on_failure: false,
            warn_on_failure: true,
            ..d
        };
        assert_eq!(
            compute_result_and_termination(&warn, Failure, Success),
            (Warnings, false)
        );
        let ignore = ResultFlags {
            flunk_on_failure: false,
            ..d
        };
        assert_eq!(
            compute_result_and_termination(&ignore, Failure, Success),
            (Success, false)
        );
        let halt = ResultFlags {
            halt_on_failure: true,
            ..d
        };
        assert_eq!(
            compute_result_and_termination(&halt, Failure, Success),
            (Failure, true)
        );
        let ww = ResultFlags {
            warn_on_warnings: true,
            ..d
        };
        assert_eq!(
            compute_result_and_termination(&ww, Warnings, Success),
            (Warnings, false)
        );
        let fw = ResultFlags {
            flunk_on_warnings: true,
            ..d
        };
        assert_eq!(
            compute_result_and_termination(&fw, Warnings, Success),
            (Failure, false)
        );
        for r in [Exception, Retry, Cancelled] {
            assert_eq!(compute_result_and_termination(&d, r, Failure), (r, true));
        }
        assert_eq!(
            compute_result_and_termination(&d, Skipped, Success),
            (Success, false)
        );
        assert_eq!(
            compute_result_and_termination(&d, Success, Warnings),
            (Warnings, false)
        );
    }

    #[test]
    fn summary_policy_default() {
        assert_eq!(
            ResultFlags::default().default_summary_policy(),
            [Exception, Retry, Cancelled, Failure]
        );
        let none = ResultFlags {
            flunk_on_failure: false,
            ..Default::default()
        };
        assert_eq!(none.default_summary_policy(), [Exception, Retry, Cancelled]);
        let ww = ResultFlags {
            warn_on_warnings: true,
            ..Default::default()
        };
        assert_eq!(
            ww.default_summary_policy(),
            [Exception, Retry, Cancelled, Failure, Warnings]
        );
    }

    #[test]
    fn command_abbreviation_matches_fixtures() {
        assert_eq!(
            command_to_string(&json!(["sh", "-c", "echo hello"])).as_deref(),
            Some("'sh -c ...'")
        );
        assert_eq!(
            command_to_string(&json!("make test")).as_deref(),
            Some("'make test'")
        );
        assert_eq!(
            command_to_string(&json!(["make"])).as_deref(),
            Some("'make'")
        );
        assert_eq!(
            command_to_string(&json!([["a", "b"], "c"])).as_deref(),
            Some("'a b ...'")
        );
        assert_eq!(command_to_string(&json!([])), None);
        let d = StepDescription::default();
        let cmd = json!(["sh", "-c", "exit 1"]);
        assert_eq!(
            shell_result_summary(&d, &cmd, Success, StepEnding::default()),
            "'sh -c ...'"
        );
        assert_eq!(
            shell_result_summary(&d, &cmd, Failure, StepEnding::default()),
            "'sh -c ...' (failure)"
        );
        assert_eq!(
            shell_result_summary(
                &d,
                &cmd,
                Failure,
                StepEnding {
                    timed_out: true,
                    ..Default::default()
                }
            ),
            "'sh -c ...' (failure) (timed out)"
        );
    }

    #[test]
    fn step_summaries() {
        let mut d = StepDescription::default();
        assert_eq!(step_current_summary(&d), "running");
        assert_eq!(
            step_result_summary(&d, Success, StepEnding::default()),
            "finished"
        );
        d.description = Some(vec!["compiling".into()]);
        d.description_suffix = Some(vec!["fast".into()]);
        assert_eq!(step_current_summary(&d), "compiling fast");
        assert_eq!(
            step_result_summary(&d, Warnings, StepEnding::default()),
            "compiling fast (warnings)"
        );
        d.description_done = Some(vec!["compiled".into()]);
        assert_eq!(
            step_result_summary(&d, Success, StepEnding::default()),
            "compiled fast"
        );
        assert_eq!(
            shell_result_summary(&d, &json!(["make"]), Success, StepEnding::default()),
            "compiled fast"
        );
    }

    #[test]
    fn final_build_texts_match_fixtures() {
        assert_eq!(build_final_text(Success, None, &[]), "build successful");
        assert_eq!(
            build_final_text(Failure, None, &["'sh -c ...' (failure)".into()]),
            "failed 'sh -c ...' (failure)"
        );
        assert_eq!(
            build_final_text(
                Cancelled,
                Some("spec says stop"),
                &["'sh -c ...' (cancelled)".into()]
            ),
            "cancelled (spec says stop) 'sh -c ...' (cancelled)"
        );
        assert_eq!(
            build_final_text(Retry, None, &["lost connection".into()]),
            "retry lost connection"
        );
        assert!(contributes_to_build_summary(
            &ResultFlags::default().default_summary_policy(),
            Failure
        ));
    }
}
