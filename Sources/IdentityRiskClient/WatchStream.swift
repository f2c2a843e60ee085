public import IdentityRiskCore
import IdentityRiskService
import IdentityRiskWire
import NIOCore
import Synchronization

/// How ``IdentityRiskClient/watch(filter:from:options:)`` behaves.
public struct WatchOptions: Sendable {
    /// After a connection failure (or the server shutting down, or ending the
    /// stream because this client read too slowly), reconnect and resume after
    /// the last cursor received: no change missed, none repeated.
    public var resume: Bool
    /// Failed attempts in a row (no message received in between) before the
    /// stream gives up with the last error; `nil`: never give up.
    public var maxConsecutiveFailures: Int?
    /// Messages buffered for a slow consumer before the client stops reading
    /// the socket (the server then holds them, up to its own bound).
    public var bufferedMessages: Int

    public init(resume: Bool = true, maxConsecutiveFailures: Int? = 60, bufferedMessages: Int = 4096) {
        precondition(bufferedMessages >= 2, "a watch buffers at least 2 messages")
        self.resume = resume
        self.maxConsecutiveFailures = maxConsecutiveFailures
        self.bufferedMessages = bufferedMessages
    }
}

extension IdentityRiskClient {
    /// The changes that match `filter` (list's `$filter` grammar), in cursor
    /// order, from `start`, as an `AsyncSequence` of ``WatchChanges/Message``:
    /// `.change` (created, updated, deleted) and `.bookmark` (no change; the
    /// stream has reached that cursor; the first message is always one).
    ///
    /// Each watch has its own connection. By default it reconnects and resumes
    /// after its last cursor when the connection breaks or the server restarts
    /// (``WatchOptions/resume``). It ends with an error that resuming cannot
    /// fix: a cursor that expired (`IdentityRiskError.isCursorExpired`: list
    /// again and watch after the list's cursor), a bad filter, no permission.
    /// Breaking out of the loop (or cancelling the task) cancels the stream.
    public func watch(filter: String = "", from start: WatchChanges.Start = .now, options: WatchOptions = WatchOptions()) -> WatchStream {
        WatchStream(client: self, request: WatchChanges.Request(filter: filter, start: start), options: options)
    }
}

/// A resumable watch (``IdentityRiskClient/watch(filter:from:options:)``).
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchChanges.Message

    let client: IdentityRiskClient
    let request: WatchChanges.Request
    let options: WatchOptions

    public func makeAsyncIterator() -> Iterator {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
        let gate = ReadGate(limit: options.bufferedMessages)
        let task = Task { [client, request, options] in
            await Self.produce(client: client, request: request, options: options, gate: gate, into: continuation)
        }
        continuation.onTermination = { _ in task.cancel() }
        return Iterator(inner: stream.makeAsyncIterator(), gate: gate)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var inner: AsyncThrowingStream<Element, any Error>.Iterator
        let gate: ReadGate

        public mutating func next() async throws -> Element? {
            let element = try await inner.next()
            if element != nil { gate.consumed() }
            return element
        }
    }

    /// The attempts: connect, watch from the start (later: after the last
    /// cursor), forward messages, and on a failure that resuming can fix, back
    /// off and go again.
    private static func produce(
        client: IdentityRiskClient, request: WatchChanges.Request, options: WatchOptions, gate: ReadGate,
        into continuation: AsyncThrowingStream<Element, any Error>.Continuation
    ) async {
        var start = request.start
        var failures = 0
        while !Task.isCancelled {
            let progress = Mutex<(last: ChangeCursor?, received: Bool)>((nil, false))
            do {
                let connection = try await client.openConnection()
                gate.attach(connection)
                let attempt = WatchChanges.Request(filter: request.filter, start: start)
                let (callID, ended) = try connection.openStream(IdentityRiskMethods.Watch.self, attempt, timeoutMilliseconds: nil) { message in
                    progress.withLock { $0 = (message.cursor, true) }
                    gate.produced()
                    continuation.yield(message)
                }
                do {
                    try await withTaskCancellationHandler {
                        try await ended.get()
                    } onCancel: {
                        connection.cancelStream(callID)
                    }
                    await connection.close()
                    continuation.finish()
                    return
                } catch {
                    await connection.close()
                    throw error
                }
            } catch {
                let (last, received) = progress.withLock { $0 }
                if let last { start = .after(last) }
                if received { failures = 0 }
                failures += 1
                if Task.isCancelled { break }
                let giveUp = options.maxConsecutiveFailures.map { failures > $0 } ?? false
                guard options.resume, !giveUp, Self.isResumable(error) else {
                    continuation.finish(throwing: error)
                    return
                }
                let backoff = Swift.min(2000, 50 << Swift.min(failures, 6))
                try? await Task.sleep(for: .milliseconds(backoff))
            }
        }
        continuation.finish()
    }

    /// Failures that a new connection, resuming after the last cursor, can fix.
    static func isResumable(_ error: any Error) -> Bool {
        switch error {
        case let error as IdentityRiskError:
            // The server shutting down or unreachable; overload, or this client
            // reading too slowly (the stream was ended with its cursor).
            return error.code == .unavailable || error.code == .resourceExhausted
        case is WireError, is ChannelError, is IOError:
            return true
        default:
            return false
        }
    }
}

/// Holds back reading the socket while the consumer has `limit` messages unread.
final class ReadGate: Sendable {
    private struct State {
        var buffered = 0
        var paused = false
        var connection: ClientConnection?
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func attach(_ connection: ClientConnection) {
        state.withLock {
            $0.connection = connection
            $0.paused = false
        }
    }

    func produced() {
        let pause = state.withLock { state -> ClientConnection? in
            state.buffered += 1
            guard state.buffered >= limit, !state.paused else { return nil }
            state.paused = true
            return state.connection
        }
        pause?.setReading(false)
    }

    func consumed() {
        let resume = state.withLock { state -> ClientConnection? in
            state.buffered -= 1
            guard state.paused, state.buffered <= limit / 2 else { return nil }
            state.paused = false
            return state.connection
        }
        resume?.setReading(true)
    }
}
