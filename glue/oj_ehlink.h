/*
** oj_ehlink.h: the object layer plugin that links .eh_frame as one block
** and registers it (glue/oj_ehlink.cc).  C++ only: used by
** glue/oj_memmgr.cc when it builds a session's object layer.
*/
#ifndef OJ_EHLINK_H
#define OJ_EHLINK_H
#include <atomic>
#include <memory>

#include "llvm/ExecutionEngine/Orc/LinkGraphLinkingLayer.h"

/* Debugger: set for a debugger session (may be set after this call, before
** the first link; NULL: never).  Such a session leaves .eh_frame to
** JITLink: the GDB JIT image (glue/oj_debug.cc) finds each section's
** address through its block's content, which this plugin would copy. */
std::shared_ptr<llvm::orc::LinkGraphLinkingLayer::Plugin>
oj_ehlink_plugin(const std::atomic<bool> *Debugger);

#endif /* OJ_EHLINK_H */
