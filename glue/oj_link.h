/*
** oj_link.h: the JITLink plugin of a session's object layer
** (glue/oj_link.cc).  C++ only: it is added by oj_memmgr_create_object_layer.
*/
#ifndef OJ_LINK_H
#define OJ_LINK_H

#include <memory>

#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"

/* A plugin that binds the undefined symbols of each linked object in the
** link graph itself, through the core's search (oj_resolve_external). */
std::shared_ptr<llvm::orc::ObjectLinkingLayer::Plugin> oj_link_make_plugin();

#endif /* OJ_LINK_H */
