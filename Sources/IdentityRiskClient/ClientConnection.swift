import IdentityRiskCore
import IdentityRiskWire
import NIOCore
import NIOPosix
import Synchronization

/// One connection to the server, carrying many calls at once.
final class ClientConnection: Sendable {
    let channel: any Channel
    private let nextCallID = Atomic<UInt64>(1)
    /// Why the connection ended, when a handler knew better than "closed".
    private let closeReason: CloseReason

    private init(channel: any Channel, closeReason: CloseReason) {
        self.channel = channel
        self.closeReason = closeReason
    }

    /// The error a call on a connection that has ended fails with.
    var endedError: any Error { closeReason.error ?? WireError.connectionClosed }

    static func connect(socketPath: String, configuration: ClientConfiguration, group: any EventLoopGroup) async throws -> ClientConnection {
        let closeReason = CloseReason()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(configuration.connectTimeoutMilliseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ClientPrefaceHandler(closeReason: closeReason),
                        ByteToMessageHandler(FrameDecoder(maxFrameBytes: configuration.maxResponseFrameBytes)),
                        ClientCallHandler(closeReason: closeReason)
                    )
                }
            }
            .connect(unixDomainSocketPath: socketPath)
            .get()
        do {
            try await ServerCredentialCheck.verify(channel, socketPath: socketPath, expectedUID: configuration.expectedServerUID)
        } catch {
            try? await channel.close()
            throw error
        }
        return ClientConnection(channel: channel, closeReason: closeReason)
    }

    var isActive: Bool { channel.isActive }

    /// Sends a call of `method` and waits for its answer, honouring `timeout` and task cancellation.
    func call<M: WireMethod>(_ method: M.Type, _ request: M.Request, timeoutMilliseconds: UInt32?) async throws -> M.Response {
        if let problem = M.encodingProblem(request) {
            throw problem
        }
        let callID = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = channel.allocator.buffer(capacity: 256)
        RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds ?? 0, into: &frame)
        let completion = CallCompletion<M>(promise: channel.eventLoop.makePromise(of: M.Response.self))
        var timer: Scheduled<Void>?
        if let timeoutMilliseconds {
            let channel = self.channel
            // The server enforces the deadline too; this one also covers a server
            // that never answers. A little slack lets the server's answer win.
            timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMilliseconds) + 50)) {
                Self.abandon(channel, callID, completion, IdentityRiskError(
                    code: .deadlineExceeded, message: "no answer within the \(timeoutMilliseconds) ms deadline"))
            }
        }
        defer { timer?.cancel() }
        // If the connection closed after it was picked, the write fails without
        // reaching ClientCallHandler; the call must fail then, not wait forever.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { [channel, closeReason] _ in
            // NIO fails pending writes before the pipeline hears that the channel
            // closed; answer once it has, so that a known reason (a refusal before
            // the preface) is the one reported.
            channel.closeFuture.whenComplete { _ in completion.fail(closeReason.error ?? WireError.connectionClosed) }
        }
        channel.write(PendingCall(callID: callID, frame: frame, completion: completion), promise: written)
        return try await withTaskCancellationHandler {
            try await completion.futureResult.get()
        } onCancel: {
            let channel = self.channel
            var cancel = channel.allocator.buffer(capacity: 16)
            RequestCodec.encodeCancel(targetCallID: callID, into: &cancel)
            channel.write(PendingCall(callID: 0, frame: cancel, completion: nil), promise: nil)
            Self.abandon(channel, callID, completion, IdentityRiskError(code: .cancelled, message: "the call was cancelled by the caller"))
        }
    }

    /// Starts a server-streaming call of `method`: each message goes to
    /// `onMessage` (on the event loop, in order); the future ends with the
    /// stream (its final status as an error, or the connection's failure).
    /// ``cancelStream(_:)`` cancels it.
    func openStream<M: WireMethod>(
        _ method: M.Type, _ request: M.Request, timeoutMilliseconds: UInt32?, onMessage: @escaping @Sendable (M.Response) -> Void
    ) throws -> (callID: UInt64, ended: EventLoopFuture<Void>) {
        if let problem = M.encodingProblem(request) {
            throw problem
        }
        let callID = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        var frame = channel.allocator.buffer(capacity: 256)
        RequestCodec.encode(method, request, callID: callID, timeoutMilliseconds: timeoutMilliseconds ?? 0, into: &frame)
        let completion = StreamCompletion<M>(promise: channel.eventLoop.makePromise(of: Void.self), onMessage: onMessage)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { [channel, closeReason] _ in
            // NIO fails pending writes before the pipeline hears that the channel
            // closed; answer once it has, so that a known reason (a refusal before
            // the preface) is the one reported.
            channel.closeFuture.whenComplete { _ in completion.fail(closeReason.error ?? WireError.connectionClosed) }
        }
        channel.write(PendingCall(callID: callID, frame: frame, completion: completion), promise: written)
        return (callID, completion.ended)
    }

    /// Asks the server to end stream `callID` (its final status still arrives).
    func cancelStream(_ callID: UInt64) {
        var cancel = channel.allocator.buffer(capacity: 16)
        RequestCodec.encodeCancel(targetCallID: callID, into: &cancel)
        channel.writeAndFlush(PendingCall(callID: 0, frame: cancel, completion: nil), promise: nil)
    }

    /// Stops (`false`) or resumes reading from the socket: a stream's consumer
    /// that falls behind holds the server back this way, through the socket.
    func setReading(_ reading: Bool) {
        channel.setOption(ChannelOptions.autoRead, value: reading).whenSuccess { [channel] in
            if reading { channel.read() }
        }
    }

    /// Fails the call now and tells the handler to drop a late answer.
    private static func abandon(_ channel: any Channel, _ callID: UInt64, _ completion: some PendingResponse, _ error: IdentityRiskError) {
        completion.fail(error)
        channel.triggerUserOutboundEvent(ClientCallHandler.ForgetCall(callID: callID), promise: nil)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Set by a handler that knows why the connection ended (the server refused
/// us before its preface), read by calls whose write found it closed.
final class CloseReason: Sendable {
    private let state = Mutex<(any Error)?>(nil)

    var error: (any Error)? { state.withLock { $0 } }

    func record(_ error: any Error) {
        state.withLock { if $0 == nil { $0 = error } }
    }
}
