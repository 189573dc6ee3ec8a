//! The server a session measures: the one at `--url`, or the built-in simulation started here;
//! the HTTP client that reaches it; and what it says about itself.

use std::time::Duration;

use anyhow::Context;

use crate::client::Target;
use crate::exit::bad_input;
use crate::limits::{bounded, CONNECT_TIMEOUT};
use crate::plan::{MeasurePlan, ServerPlan};
use crate::probe::{self, ServerFacts};
use crate::secrets::redact;
use crate::serve_sim::{SimOptions, SimServer};

/// A request body's bytes per prompt token, at most: a token id and its comma in JSON (up to
/// 7 digits), or a word and its space.
pub const BODY_BYTES_PER_TOKEN: u64 = 8;

/// Servers close idle keep-alive connections after 5 s (uvicorn for vLLM, cpp-httplib for
/// llama.cpp); reusing one at that moment fails the request with "connection closed before
/// message completed". Dropping them sooner avoids it.
const IDLE_CONNECTION: Duration = Duration::from_secs(2);

/// The server, reachable.
pub struct Server {
    /// The HTTP client, sized for the plan's streams.
    pub http: reqwest::Client,
    /// Where requests go and how they look.
    pub target: Target,
    /// What the server said about itself.
    pub facts: ServerFacts,
    /// The built-in server, when it is the one measured.
    pub sim: Option<(SimServer, SimOptions)>,
}

impl Server {
    /// Checks that this process can hold the plan's streams, starts the built-in server when
    /// the plan says so, and reads the server (`/v1/models`, `/version`).
    ///
    /// # Errors
    /// Bad input (a concurrency the process cannot hold, no model served and none named, a
    /// simulated deployment that does not fit) or a server that does not answer.
    pub async fn open(plan: &MeasurePlan) -> anyhow::Result<Server> {
        let load = &plan.load;
        let body_estimate = u64::from(load.prompt_tokens.iter().copied().max().unwrap_or(1))
            .saturating_mul(BODY_BYTES_PER_TOKEN);
        crate::capacity::ensure(load.max_streams, body_estimate, plan.streams_flag)
            .map_err(bad_input)?;
        let (base_url, sim) = match &plan.server {
            ServerPlan::Url(url) => (url.clone(), None),
            ServerPlan::BuiltIn(options) => {
                let server = SimServer::start(options, 0).await?;
                (server.url(), Some((server, (**options).clone())))
            }
        };
        let requests = &plan.requests;
        // More idle connections than requests in flight, so no request waits for the pool.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(2 * load.max_streams as usize)
            .connect_timeout(bounded(requests.timeout, CONNECT_TIMEOUT))
            .pool_idle_timeout(IDLE_CONNECTION)
            .tcp_nodelay(true)
            .build()
            .context("building the HTTP client")?;
        let mut target = Target {
            base_url: base_url.clone(),
            api_key: requests.api_key.clone(),
            endpoint: requests.endpoint,
            model: String::new(),
            force_output_length: requests.force_output_length,
            timeout: requests.timeout,
            limits: requests.read_limits,
        };
        let facts = probe::probe(&http, &target).await?;
        target.model = match (&requests.served_model, &facts.served_model) {
            (Some(m), _) | (None, Some(m)) => m.clone(),
            (None, None) => {
                return Err(bad_input(format!(
                    "{}/v1/models lists no model: pass --served-model",
                    redact(&base_url)
                )))
            }
        };
        Ok(Server {
            http,
            target,
            facts,
            sim,
        })
    }

    /// Where the server's metrics are scraped, when the plan wants them.
    pub fn metrics_url(&self, plan: &MeasurePlan) -> Option<String> {
        let given = plan.telemetry.metrics_url.as_ref()?;
        Some(
            given
                .clone()
                .unwrap_or_else(|| format!("{}/metrics", self.target.base_url)),
        )
    }

    /// One line for the terminal: where, which engine, which model.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, model {}){}",
            redact(&self.target.base_url),
            self.facts.engine,
            self.target.model,
            self.sim
                .as_ref()
                .map(|(s, _)| format!("\n  {}", s.description))
                .unwrap_or_default()
        )
    }

    /// Stops the built-in server, if it is the one measured.
    pub fn stop(&self) {
        if let Some((server, _)) = &self.sim {
            server.stop();
        }
    }
}
