//! llmsweep: load-test and compare OpenAI-compatible LLM inference engines.

pub mod sim;
