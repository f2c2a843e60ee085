import IdentityRiskServer
import Logging
import ServiceLifecycle

/// Tells systemd when iriskd is ready and when it stops. Last in the
/// ServiceGroup, so it hears of shutdown first: `STOPPING=1` goes out before
/// the server starts draining.
struct ReadinessNotifier: Service {
    let notifier: SystemdNotifier
    let server: IdentityRiskServer
    let status: String
    let logger: Logger

    func run() async throws {
        do {
            try await server.waitUntilListening()
        } catch {
            return  // the server's own error ends the group
        }
        send("READY=1\nSTATUS=\(status)")
        try? await gracefulShutdown()
        send("STOPPING=1\nSTATUS=shutting down: answering calls in flight, then committing")
    }

    private func send(_ state: String) {
        do {
            try notifier.notify(state)
            logger.debug("sd_notify", metadata: ["state": "\(state)", "socket": "\(notifier.address)"])
        } catch {
            logger.warning("sd_notify failed", metadata: ["error": "\(error)"])
        }
    }
}

/// `WATCHDOG=1` every `WATCHDOG_USEC / 2`. First in the ServiceGroup, so it
/// keeps pinging while the server drains and the store commits at shutdown.
struct WatchdogPinger: Service {
    let notifier: SystemdNotifier
    let interval: Duration
    let logger: Logger

    func run() async throws {
        logger.info("systemd watchdog: pinging", metadata: ["intervalMs": "\(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)"])
        while true {
            do {
                try notifier.notify("WATCHDOG=1")
            } catch {
                logger.warning("sd_notify WATCHDOG=1 failed", metadata: ["error": "\(error)"])
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return  // shutdown reached us (we are the last service), or the group was cancelled
            }
        }
    }
}
