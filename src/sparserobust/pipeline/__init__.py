"""The workflow's side: config validation, per-job specs, the stages the scripts call, the CLI plumbing.
May import: every layer below it (foundations ... analysis)."""
