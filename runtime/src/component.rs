//! WebAssembly components (WASI 0.2) beside core modules: the platform's
//! own world, `faas:function/handler` (`wit/faas-function.wit`: one export
//! `handle: func(payload: string) -> result<string, string>`), and
//! `wasi:cli/command` (stdin in, stdout out, like a WASI command module).
//! A component of any other world is refused at load, naming its exports.
//!
//! A component gets WASI 0.2 with the same nothing as a module: no
//! preopened directories, no environment, no sockets or name lookups, and
//! only the pipes the invocation gives it.

use crate::config::RuntimeConfig;
use crate::host::Limiter;
use crate::load::LoadError;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, ResourceTable, Type};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The export of the handler world.
pub(crate) const HANDLE: &str = "handle";
/// The interface a `wasi:cli/command` exports (any 0.2 version).
pub(crate) const CLI_RUN: &str = "wasi:cli/run@0.2";

/// Which of the two worlds a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum World {
    Handler,
    Command,
}

/// A compiled component, linked against WASI 0.2.
pub(crate) struct CompiledComponent {
    pub(crate) pre: InstancePre<ComponentHost>,
    pub(crate) world: World,
}

/// Whether a wasm binary is a component (its header's version and layer
/// fields) rather than a core module.
pub(crate) fn is_component(binary: &[u8]) -> bool {
    binary.len() >= 8 && binary[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

/// The world `component` implements, from its exports.
pub(crate) fn world_of(engine: &Engine, component: &Component) -> Result<World, LoadError> {
    let ty = component.component_type();
    let mut names = Vec::new();
    for (name, export) in ty.exports(engine) {
        let item = export.ty;
        if name == HANDLE {
            if let ComponentItem::ComponentFunc(func) = &item {
                let params: Vec<Type> = func.params().map(|(_, t)| t).collect();
                let results: Vec<Type> = func.results().collect();
                if is_handler_signature(&params, &results) {
                    return Ok(World::Handler);
                }
            }
            return Err(LoadError::UnsupportedSignature {
                entry: HANDLE.into(),
                signature: describe(&item),
                reason: "the handler world's `handle` is `func(payload: string) -> result<string, string>`".into(),
            });
        }
        if name.starts_with(CLI_RUN) {
            return Ok(World::Command);
        }
        names.push(name.to_string());
    }
    Err(LoadError::UnsupportedWorld { exports: names })
}

fn is_handler_signature(params: &[Type], results: &[Type]) -> bool {
    let string_result = |t: &Type| match t {
        Type::Result(r) => {
            matches!(r.ok(), Some(Type::String)) && matches!(r.err(), Some(Type::String))
        }
        _ => false,
    };
    matches!(params, [Type::String]) && matches!(results, [r] if string_result(r))
}

fn describe(item: &ComponentItem) -> String {
    match item {
        ComponentItem::ComponentFunc(f) => format!(
            "func({}) -> ({})",
            f.params()
                .map(|(n, t)| format!("{n}: {}", type_name(&t)))
                .collect::<Vec<_>>()
                .join(", "),
            f.results()
                .map(|t| type_name(&t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "not a function".into(),
    }
}

fn type_name(t: &Type) -> String {
    match t {
        Type::String => "string".into(),
        Type::Result(_) => "result<...>".into(),
        other => format!("{other:?}")
            .split(['(', ' '])
            .next()
            .unwrap_or("?")
            .to_lowercase(),
    }
}

/// What a component's `Store` carries for one invocation.
pub(crate) struct ComponentHost {
    pub(crate) limiter: Limiter,
    ctx: WasiCtx,
    table: ResourceTable,
}

impl ComponentHost {
    /// A host with `stdin`, the capped pipes, and no authority at all.
    pub(crate) fn new(
        config: &RuntimeConfig,
        stdin: Vec<u8>,
        stdout: crate::output::CappedOutput,
        stderr: crate::output::CappedOutput,
    ) -> Self {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(stdin))
            .stdout(stdout)
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        ComponentHost {
            limiter: Limiter::for_component(config),
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for ComponentHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}
