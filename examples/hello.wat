;; A WASI command: reads stdin and writes "hello, <stdin>" to stdout.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello, ")
  (func (export "_start")
    ;; read up to 4 KiB of stdin right after the greeting
    (i32.store (i32.const 0) (i32.const 107))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    ;; write greeting + what was read
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.add (i32.const 7) (i32.load (i32.const 16))))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))))
