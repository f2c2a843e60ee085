import NIOCore

/// Throttles a client that sends requests without reading its responses.
///
/// When the connection's outbound buffer passes its high-water mark
/// (`ChannelOptions.writeBufferWaterMark`), the channel turns unwritable: this
/// handler then withholds `read()`, so the server stops reading requests from
/// that connection (the kernel buffer fills and the client's sends block)
/// until the buffer drains below the low-water mark. If the connection stays
/// unwritable for `unwritableTimeout`, it is closed: its client is not reading.
///
/// Other connections are unaffected: each has its own buffer, and nothing here
/// blocks an event loop.
///
/// Memory per connection is thus bounded by the requests of one read (which
/// the decoder has already split into frames), the calls started before the
/// buffer filled (at most `maxCallsInFlightPerConnection`), and the buffer.
final class OutboundBackpressureHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let unwritableTimeout: TimeAmount
    private let onClose: (ConnectionClosure) -> Void
    private var writable = true
    private var pendingRead = false
    private var timer: Scheduled<Void>?

    init(unwritableTimeout: TimeAmount, onClose: @escaping (ConnectionClosure) -> Void) {
        self.unwritableTimeout = unwritableTimeout
        self.onClose = onClose
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if writable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable {
            timer?.cancel()
            timer = nil
            if pendingRead {
                pendingRead = false
                context.read()
            }
        } else {
            context.flush()
            if timer == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                timer = context.eventLoop.scheduleTask(in: unwritableTimeout) {
                    let (handler, context) = loopBound.value
                    handler.timer = nil
                    guard !handler.writable else { return }
                    handler.onClose(.unwritable(milliseconds: handler.unwritableTimeout.nanoseconds / 1_000_000))
                    context.close(promise: nil)
                }
            }
        }
        context.fireChannelWritabilityChanged()
    }
}

@available(*, unavailable)
extension OutboundBackpressureHandler: Sendable {}
