//! The crate's error type. Context (source, collection, chunk, id) travels
//! in fields; every message ends with what to do about it.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something inconsistent (bad flags, mismatched options).
    #[error("{0}")]
    Usage(String),

    /// The source failed or holds something we cannot export.
    #[error("{source_kind} ({target}): {message}")]
    Source {
        source_kind: &'static str,
        /// Table / collection, and the server address without secrets.
        target: String,
        message: String,
    },

    /// A chunk file is missing, corrupted or unreadable.
    #[error("chunk {file} of collection {collection}: {message}")]
    Chunk {
        collection: String,
        file: String,
        message: String,
    },

    /// The manifest is missing, invalid or does not match the request.
    #[error("manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },

    /// The destination refused or failed.
    #[error("VelesDB ({dest}, collection {collection}): {message}")]
    Sink {
        dest: String,
        collection: String,
        message: String,
    },

    /// Bad data in the snapshot (ids, vectors) that the import refuses.
    #[error("collection {collection}: {message}")]
    Data { collection: String, message: String },

    /// An object store (s3://, gs://, az://) failed or refused.
    #[error("object store {url}: {message}")]
    Store { url: String, message: String },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Stable error code (documented in README "Errors").
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "VM-USAGE",
            Error::Source { .. } => "VM-SOURCE",
            Error::Chunk { .. } => "VM-CHUNK",
            Error::Manifest { .. } => "VM-MANIFEST",
            Error::Sink { .. } => "VM-SINK",
            Error::Data { .. } => "VM-DATA",
            Error::Store { .. } => "VM-STORE",
            Error::Io { .. } => "VM-IO",
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        let context = context.into();
        // A full disk is common during big exports: say so plainly.
        if source.raw_os_error() == Some(28) {
            return Error::Io {
                context: format!("{context} (the disk is full: free space or choose another directory, then re-run the same command to resume)"),
                source,
            };
        }
        Error::Io { context, source }
    }
}

/// Shorthand for attaching a context string to io results.
pub trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}
