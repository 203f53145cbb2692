//! `GET /events`: a server-sent-event stream, one event a second, held
//! open until the client leaves or the service stops. Each open stream
//! holds `STREAM_BYTES` of written memory for as long as it is open, so a
//! held client has a known cost (the ground truth of runcost's held-
//! connection scaling: memory per connection ≥ STREAM_BYTES).

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Bytes, Frame};

use crate::memory::touched;
use crate::state::State;

/// Time between two events of one stream.
pub const EVENT_EVERY: Duration = Duration::from_secs(1);

/// One open stream: its buffer, its timer, and the gauge it keeps true.
pub struct EventStream {
    state: Arc<State>,
    tick: tokio::time::Interval,
    seq: u64,
    /// Written once, held while the stream is open.
    buffer: Box<[u8]>,
}

impl EventStream {
    pub fn open(state: Arc<State>) -> EventStream {
        let buffer = touched(state.config.stream_bytes as usize, 0xE5);
        state.streams.fetch_add(1, Ordering::Relaxed);
        let mut tick = tokio::time::interval(EVENT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        EventStream {
            state,
            tick,
            seq: 0,
            buffer,
        }
    }

    /// The next event's bytes; the first comes at once, so a client knows
    /// the stream is open.
    pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.state.stopping.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match self.tick.poll_tick(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => {
                self.seq += 1;
                // Reads the buffer so it stays part of the stream's work.
                let sum = self.buffer.iter().step_by(4096).fold(0u8, |a, b| a ^ b);
                Poll::Ready(Some(Bytes::from(format!(
                    "id: {}\ndata: {{\"seq\":{},\"check\":{sum}}}\n\n",
                    self.seq, self.seq
                ))))
            }
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.state.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl hyper::body::Body for EventStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.get_mut()
            .poll_event(cx)
            .map(|e| e.map(|b| Ok(Frame::data(b))))
    }
}
