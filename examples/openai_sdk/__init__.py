"""An agent written with the OpenAI Agents SDK, run durably by Longboat."""
