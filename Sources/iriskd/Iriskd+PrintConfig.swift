import Foundation
import IdentityRiskCore

/// `iriskd --print-config`: every setting with its effective value and where
/// it came from, in the configuration file's own syntax (so the output can be
/// saved as a file and edited):
///
/// ```
/// # configuration file: /etc/identityrisk/iriskd.conf (named by --config)
/// socket = /run/identityrisk/iriskd.sock        # default (uid 0)
/// store = sqlite:/var/lib/identityrisk/events.sqlite  # config file /etc/identityrisk/iriskd.conf:2
/// max-streams = 64                               # environment IRISKD_MAX_STREAMS
/// # socket-group is not set                      # default
/// ```
extension Iriskd {
    /// Each setting's long flag name and its values (none: unset; several: a repeatable flag).
    var effectiveSettings: [(name: String, values: [String])] {
        let defaultSocket: [String] = (try? socketPath).map { [$0] } ?? []
        return [
            ("socket", defaultSocket),
            ("store", [store]),
            ("socket-mode", [socketMode]),
            ("socket-group", socketGroup.map { ["\($0)"] } ?? []),
            ("max-frame-bytes", ["\(maxFrameBytes)"]),
            ("max-connections", ["\(maxConnections)"]),
            ("max-connections-per-uid", ["\(maxConnectionsPerUid)"]),
            ("max-in-flight", ["\(maxInFlight)"]),
            ("handshake-timeout-ms", ["\(handshakeTimeoutMs)"]),
            ("idle-timeout-ms", ["\(idleTimeoutMs)"]),
            ("frame-read-timeout-ms", ["\(frameReadTimeoutMs)"]),
            ("unwritable-timeout-ms", ["\(unwritableTimeoutMs)"]),
            ("write-high-water-mark", ["\(writeHighWaterMark)"]),
            ("write-low-water-mark", ["\(writeLowWaterMark)"]),
            ("decode-memory-factor", ["\(decodeMemoryFactor)"]),
            ("min-decode-memory-bytes", ["\(minDecodeMemoryBytes)"]),
            ("allow-uid", allowUIDs.map { "\($0)" }),
            ("allow-gid", allowGIDs.map { "\($0)" }),
            ("grant", grantTexts),
            ("max-streams", ["\(maxStreams)"]),
            ("stream-buffer-bytes", ["\(streamBufferBytes)"]),
            ("watch-bookmark-interval-ms", ["\(watchBookmarkIntervalMs)"]),
            ("watch-linger-ms", ["\(watchLingerMs)"]),
            ("change-retention-age", changeRetentionAge.map { [$0] } ?? []),
            ("change-retention-count", changeRetentionCount.map { [$0] } ?? []),
            ("max-batch-size", maxBatchSize.map { ["\($0)"] } ?? []),
            ("sqlite-checkpoint-ms", ["\(sqliteCheckpointMs)"]),
            ("shutdown-grace-ms", ["\(shutdownGraceMs)"]),
            ("log-level", [logLevel]),
            ("log-format", [logFormat]),
            ("metrics-socket", metricsSocket.map { [$0] } ?? []),
            ("metrics-socket-mode", [metricsSocketMode]),
            ("metrics-listen", metricsListen.map { [$0] } ?? []),
            ("summary-interval", ["\(summaryInterval)"]),
        ]
    }

    /// What a default is based on, where that depends on the environment.
    func defaultOrigin(_ name: String) -> String {
        switch name {
        case "socket":
            if getuid() == 0 { return "default (uid 0)" }
            return (try? DefaultSocketPath.current()) == nil ? "default: none (XDG_RUNTIME_DIR is not set; give --socket)" : "default ($XDG_RUNTIME_DIR)"
        case "store":
            return ProcessInfo.processInfo.environment["XDG_STATE_HOME"].map { $0.isEmpty ? nil : $0 } != nil
                ? "default ($XDG_STATE_HOME)" : "default ($HOME/.local/state)"
        default:
            return "default"
        }
    }

    func configurationReport(_ resolved: ConfigurationSources.Resolved) -> String {
        var out = ""
        if let file = resolved.configFile {
            out += "# configuration file: \(file.path) (named by \(file.namedBy))\n"
        } else {
            out += "# no configuration file (--config FILE or IRISKD_CONFIG)\n"
        }
        var rows: [(text: String, origin: String)] = []
        var listed: Set<String> = []
        for (name, values) in effectiveSettings {
            listed.insert(name)
            let origins = resolved.origins[name] ?? []
            if values.isEmpty {
                rows.append(("# \(name) is not set", origins.last ?? defaultOrigin(name)))
            } else if values.count == 1 {
                rows.append(("\(name) = \(values[0])", origins.last ?? defaultOrigin(name)))
            } else {
                // A repeatable flag collects every occurrence, in the order of its origins.
                for (index, value) in values.enumerated() {
                    rows.append(("\(name) = \(value)", index < origins.count ? origins[index] : defaultOrigin(name)))
                }
            }
        }
        for name in Self.knownFlags.subtracting(listed).sorted() {
            rows.append(("# \(name): not shown by --print-config (a bug: add it to effectiveSettings)", "?"))
        }
        let width = min(48, rows.map(\.text.count).max() ?? 0)
        for row in rows {
            let padding = String(repeating: " ", count: max(1, width + 2 - row.text.count))
            out += row.text + padding + "# " + row.origin + "\n"
        }
        return out
    }
}
