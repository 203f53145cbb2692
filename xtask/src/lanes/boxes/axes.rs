//! The axes lanes (stability, burst) on several runtimes (`--profile a,b,c`):
//! one runtime after the other, each runtime's boxes torn down before the
//! next, so a burst of one runtime never contends with another's boxes. A
//! runtime that fails is recorded failing with its reason; the others go on.

use super::compare::{Named, Runtime};
use super::{burst, resource, stability, throughput};
use crate::events::{Event, Events};
use crate::results::boxaxes::{BurstResult, ResourceResult, StabilityResult, ThroughputResult};

pub async fn stability(
    rts: &mut [Runtime],
    o: &stability::StabilityOpts,
    events: &dyn Events,
) -> Vec<Option<StabilityResult>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} stability", rt.name)));
        match stability::run(&Named(&rt.backend, &rt.name), o, events).await {
            Ok(r) => out.push(Some(r)),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    out
}

pub async fn burst(
    rts: &mut [Runtime],
    o: &burst::BurstOpts,
    events: &dyn Events,
) -> Vec<Option<BurstResult>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} burst", rt.name)));
        match burst::run(&Named(&rt.backend, &rt.name), o, events).await {
            Ok(r) => out.push(Some(r)),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    out
}

pub async fn resource(
    rts: &mut [Runtime],
    o: &resource::ResourceOpts,
    events: &dyn Events,
) -> Vec<Option<ResourceResult>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} resource", rt.name)));
        match resource::run(&Named(&rt.backend, &rt.name), o, events).await {
            Ok(r) => out.push(Some(r)),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    out
}

pub async fn throughput(
    rts: &mut [Runtime],
    o: &throughput::ThroughputOpts,
    events: &dyn Events,
) -> anyhow::Result<Vec<Option<ThroughputResult>>> {
    let mut out = Vec::new();
    for rt in rts.iter_mut() {
        if !rt.ok() {
            out.push(None);
            continue;
        }
        events.emit(Event::Note(format!("{} throughput", rt.name)));
        let o = throughput::ThroughputOpts {
            disk_limit_bps: rt.backend.disk_limit(),
            ..*o
        };
        match throughput::run(&Named(&rt.backend, &rt.name), &o, events).await {
            Ok(r) => out.push(Some(r)),
            // A size the box's disk cannot hold is the command's fault, not
            // the runtime's: exit 2 like any bad input.
            Err(e) if e.downcast_ref::<crate::error::BadInput>().is_some() => return Err(e),
            Err(e) => {
                rt.fail(&e);
                out.push(None)
            }
        }
    }
    Ok(out)
}
