//! The pipeline: argv + stdin → config → account → message → envelope → session → exit code.
