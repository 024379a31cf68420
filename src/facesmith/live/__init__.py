"""`facesmith live`: real-time face swap from a camera, a file played at its own pace, or a network stream,
to a virtual camera, a recorded file, a network stream and a browser preview at once.

Modules, bottom up: `sources` (capture, pacing, reconnect), `mailbox` (the one-frame hand-off that drops
stale frames), `stats`, `options` (LiveOptions), `controls` (runtime settings, terminal keys), `engine` (the one adapter onto
faces, model, blend and watermark), `sinks` and `preview` (outputs), `session` (the loop) and `command`
(the CLI).
"""
