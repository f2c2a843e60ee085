import IdentityRiskCore
import IdentityRiskWire
import NIOCore
import NIOPosix
import Synchronization

/// One connection to the server, carrying many calls at once.
final class ClientConnection: Sendable {
    let channel: any Channel
    private let nextCallID = Atomic<UInt64>(1)

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(socketPath: String, configuration: ClientConfiguration, group: any EventLoopGroup) async throws -> ClientConnection {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(configuration.connectTimeoutMilliseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ClientPrefaceHandler(),
                        ByteToMessageHandler(ResponseFrameDecoder(maxFrameBytes: configuration.maxResponseFrameBytes)),
                        MessageToByteHandler(RequestFrameEncoder()),
                        ClientCallHandler()
                    )
                }
            }
            .connect(unixDomainSocketPath: socketPath)
            .get()
        return ClientConnection(channel: channel)
    }

    var isActive: Bool { channel.isActive }

    /// Sends `method` and waits for its answer, honouring `timeout` and task cancellation.
    func call(_ method: WireRequest.Method, timeoutMilliseconds: UInt32?) async throws -> WireResponse.Result {
        let callID = nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue
        let request = WireRequest(callID: callID, timeoutMilliseconds: timeoutMilliseconds ?? 0, method: method)
        if let problem = RequestCodec.encodingProblem(request) {
            throw problem
        }
        let promise = channel.eventLoop.makePromise(of: WireResponse.self)
        var timer: Scheduled<Void>?
        if let timeoutMilliseconds {
            let channel = self.channel
            // The server enforces the deadline too; this one also covers a server
            // that never answers. A little slack lets the server's answer win.
            timer = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeoutMilliseconds) + 50)) {
                Self.abandon(channel, callID, IdentityRiskError(
                    code: .deadlineExceeded, message: "no answer within the \(timeoutMilliseconds) ms deadline"))
            }
        }
        defer { timer?.cancel() }
        channel.write(PendingCall(request: request, promise: promise), promise: nil)
        let response = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            let channel = self.channel
            channel.write(PendingCall(request: WireRequest(callID: 0, method: .cancel(targetCallID: callID)), promise: nil), promise: nil)
            Self.abandon(channel, callID, IdentityRiskError(code: .cancelled, message: "the call was cancelled by the caller"))
        }
        return response.result
    }

    private static func abandon(_ channel: any Channel, _ callID: UInt64, _ error: IdentityRiskError) {
        channel.triggerUserOutboundEvent(ClientCallHandler.AbandonCall(callID: callID, error: error), promise: nil)
    }

    func close() async {
        try? await channel.close()
    }
}
