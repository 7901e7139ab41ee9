//! Runs one build from start to finish: the synthetic `worker_preparation` step, the
//! builder's locks, the steps in order (each with its own locks, `doStepIf`, `hideStepIf`),
//! and the final result and summary (`spec/data-model.md` §6.3–§6.4).

use std::sync::Arc;

use buildbot_db::{DbError, Results, StepId};

use crate::master::config::{StepConfig, StepKind};
use crate::master::properties::is_truthy;
use crate::master::results::{
    StepEnding, build_final_text, compute_result_and_termination, contributes_to_build_summary,
    step_result_summary,
};
use crate::util::{lock, unix_now as now};

use super::build::{
    Build, BuildRenderContext, StepContext, StepDone, StepError, build_locks, step_locks,
};
use super::steps;

struct PrepStep {
    stepid: StepId,
    started: i64,
}

async fn prep_step_event(
    b: &Build,
    p: &PrepStep,
    event: &str,
    state: &str,
    done: Option<(i64, Results)>,
) {
    let step = (p.stepid, 0, "worker_preparation");
    b.publish_own_step(step, p.started, Some(p.started), event, state, done);
}

/// Runs the build to its end and returns its result (the build row is finished; requests
/// are the caller's business).
pub(super) async fn run_build(b: Arc<Build>, steps: Vec<StepConfig>) -> Result<Results, DbError> {
    // worker_preparation (announced before builds/<id>/new, as Buildbot does)
    let started = now();
    let (prep_id, _, _) = b.add_started_step("worker_preparation", started).await?;
    let prep = PrepStep {
        stepid: prep_id,
        started,
    };
    prep_step_event(&b, &prep, "new", "pending", None).await;
    prep_step_event(&b, &prep, "started", "pending", None).await;
    b.flush_properties().await?;
    // "starting" and "preparing worker" are replaced at once: only announced, the DB row
    // gets "pinging worker" (the row Buildbot leaves after the three updates)
    b.set_passing_state("starting");
    b.publish_build("new", None);
    b.set_passing_state("preparing worker");
    b.set_state("pinging worker").await?;
    let pinged = if b.stop_reason().is_some() {
        Err("worker cancelled")
    } else if b.worker.ping().await.is_err() {
        Err("worker not pinged")
    } else {
        Ok(())
    };
    if let Err(text) = pinged {
        let st = "error while pinging worker";
        let r = if b.stop_reason().is_some() {
            Results::Cancelled
        } else {
            Results::Retry
        };
        b.db.finish_step_with_state(prep_id, r, false, Some(st))
            .await?;
        prep_step_event(&b, &prep, "updated", st, None).await;
        prep_step_event(&b, &prep, "finished", st, Some((now(), r))).await;
        return finish(&b, r, text.to_owned()).await;
    }
    let ready = format!("worker {} ready", b.worker.name());
    b.db.finish_step_with_state(prep_id, Results::Success, false, Some(&ready))
        .await?;
    prep_step_event(&b, &prep, "updated", &ready, None).await;
    prep_step_event(
        &b,
        &prep,
        "finished",
        &ready,
        Some((now(), Results::Success)),
    )
    .await;
    let _build_locks = match build_locks(&b).await {
        Ok(Ok(held)) => held,
        Ok(Err(r)) => {
            let text = build_final_text(r, b.stop_reason().as_deref(), &[]);
            return finish(&b, r, text).await;
        }
        Err(e) => {
            log::warn!("build {}: cannot acquire locks: {e}", b.buildid.0);
            let text = build_final_text(Results::Exception, None, &[]);
            return finish(&b, Results::Exception, text).await;
        }
    };
    b.set_state("building").await?;

    let mut results = Results::Success;
    let mut texts: Vec<String> = Vec::new();
    let mut terminate = false;
    let mut lost = false;
    for sc in &steps {
        if lost || ((terminate || b.stop_reason().is_some()) && !sc.common.always_run) {
            continue;
        }
        let (step_result, summary, hard) = run_one_step(&b, sc).await?;
        if step_result == Results::Retry && hard {
            lost = true;
        }
        let (r, term) = compute_result_and_termination(&sc.common.flags, step_result, results);
        results = r;
        terminate |= term;
        if contributes_to_build_summary(&sc.common.update_build_summary_policy, step_result) {
            texts.push(summary);
            b.set_state(&texts.join(" ")).await?;
        }
        b.flush_properties().await?;
    }
    let stop = lock(&b.stop).clone();
    let (final_result, text) = if lost {
        (
            Results::Retry,
            build_final_text(Results::Retry, None, &["lost connection".to_owned()]),
        )
    } else if let Some(stop) = stop {
        let r = results.worst(stop.results);
        (
            stop.results,
            build_final_text(r, Some(&stop.reason), &texts),
        )
    } else {
        (results, build_final_text(results, None, &texts))
    };
    finish(&b, final_result, text).await
}

async fn finish(b: &Build, results: Results, text: String) -> Result<Results, DbError> {
    let changed = {
        let mut s = lock(&b.state_string);
        if *s == text {
            false
        } else {
            *s = text.clone();
            true
        }
    };
    // the final summary and the finish in one statement
    b.db.finish_build_with_state(b.buildid, results, changed.then_some(text.as_str()))
        .await?;
    if changed {
        b.publish_build("update", None);
    }
    b.publish_build("finished", Some((now(), results)));
    Ok(results)
}

/// Runs one configured step: `(result, summary, lost connection)`.
async fn run_one_step(b: &Arc<Build>, sc: &StepConfig) -> Result<(Results, String, bool), DbError> {
    let started = now();
    let (stepid, number, name) = b.add_started_step(&sc.common.name, started).await?;
    let mut ctx = StepContext::new(b.clone(), stepid, number, name, started);
    ctx.publish_step("new", None, None);
    ctx.publish_step("started", None, None);

    let render_bool = |r: &crate::master::Renderable, default: bool| -> bool {
        match r.as_constant() {
            Some(v) => is_truthy(v),
            None => {
                let rc = BuildRenderContext {
                    props: lock(&b.properties).clone(),
                    build: b,
                };
                r.render(&rc).map(|v| is_truthy(&v)).unwrap_or(default)
            }
        }
    };
    let do_step = render_bool(&sc.common.do_step_if, true);
    let outcome: Result<StepDone, StepError> = if !do_step {
        // shell steps summarize with their (rendered) command even when skipped
        let summary = sc.kind.shell().and_then(|sh| {
            let rc = BuildRenderContext {
                props: lock(&b.properties).clone(),
                build: b,
            };
            let cmd = sh.command.render(&rc).ok()?;
            Some(crate::master::results::shell_result_summary(
                &sc.common.description,
                &cmd,
                Results::Skipped,
                StepEnding::default(),
            ))
        });
        Ok(StepDone {
            results: Results::Skipped,
            summary,
        })
    } else {
        match steps::make_step(sc) {
            Some(step) => {
                if !matches!(
                    sc.kind,
                    StepKind::ShellCommand(_)
                        | StepKind::Configure(_)
                        | StepKind::Compile(_)
                        | StepKind::Test(_)
                        | StepKind::SetPropertyFromCommand { .. }
                        | StepKind::Git(_)
                        | StepKind::Mercurial(_)
                        | StepKind::Svn(_)
                ) {
                    let cur = crate::master::results::step_current_summary(&sc.common.description);
                    if let Err(e) = ctx.set_state_string(&cur).await {
                        log::warn!("step {}: {e}", stepid.0);
                    }
                }
                match step_locks(&mut ctx, &sc.common.locks).await {
                    Ok(Ok(_held)) => step.run(&mut ctx).await,
                    Ok(Err(cancelled)) => Ok(cancelled),
                    Err(e) => Err(e),
                }
            }
            None => Err(StepError::Failed(format!(
                "step type {} is not supported by this master",
                sc.kind.type_name()
            ))),
        }
    };
    let (results, summary, lost) = match outcome {
        Ok(done) => (done.results, done.summary, false),
        Err(StepError::LostConnection) => (Results::Retry, None, true),
        Err(e) => {
            log::warn!("build {} step {}: {e}", b.buildid.0, sc.common.name);
            if let Err(e2) = ctx.add_complete_log("err.text", &e.to_string()).await {
                log::warn!("step {}: cannot write err.text: {e2}", stepid.0);
            }
            (Results::Exception, None, false)
        }
    };
    let summary = summary.unwrap_or_else(|| {
        step_result_summary(
            &sc.common.description,
            results,
            StepEnding {
                timed_out: ctx.timed_out,
                max_lines_reached: ctx.max_lines_reached,
            },
        )
    });
    if let Err(e) = ctx.finish_all_logs().await {
        log::warn!("step {}: finishing logs: {e}", stepid.0);
    }
    let hidden = render_bool(&sc.common.hide_step_if, false);
    let changed = ctx.state_string != summary;
    if changed {
        ctx.state_string = summary.clone();
    }
    // the final summary and the finish in one statement
    b.db.finish_step_with_state(stepid, results, hidden, changed.then_some(summary.as_str()))
        .await?;
    if changed {
        ctx.publish_step("updated", None, None);
    }
    ctx.publish_step("finished", Some((now(), results)), Some(hidden));
    Ok((results, summary, lost))
}
