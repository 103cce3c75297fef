/* conformance.h -- the server behaviour the official Engine.IO v4 and Socket.IO v5 test suites expect */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include "sio.h"

/* Registers namespaces "/" and "/custom" as the suites expect of a server
 * under test: the CONNECT auth payload echoed as event "auth", "message"
 * answered with "message-back" and the same arguments (attachments too),
 * "message-with-ack" acked with its arguments. chat-ws --conformance also
 * sets ping 300/200 ms, a 1 s connect timeout and the Engine.IO echo under
 * /engine.io/. */
void conformance_register(sio_server *srv);

#endif
