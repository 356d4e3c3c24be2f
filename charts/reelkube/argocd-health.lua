-- Argo CD health check for reelkube.io RenderJob and TTSJob (Lua 5.1 compatible, as Argo CD runs it).
-- Install under argocd-cm as resource.customizations.health.reelkube.io_RenderJob and
-- resource.customizations.health.reelkube.io_TTSJob (see README.md).
local hs = {}

local function condition(conditions, type_)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

local function cause(status, fallback)
  local reason = status.reason or fallback
  if status.message ~= nil and status.message ~= "" then
    return reason .. ": " .. status.message
  end
  return reason
end

local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to accept the resource"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local phase = status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = "Rendered"
  if status.outputs ~= nil then
    local names = {}
    for name, _ in pairs(status.outputs) do
      table.insert(names, name)
    end
    table.sort(names)
    if #names > 0 then
      hs.message = "Rendered: " .. table.concat(names, ", ")
    end
  end
  return hs
end

if phase == "Failed" or phase == "Canceled" then
  hs.status = "Degraded"
  hs.message = cause(status, phase)
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. (stalled.message or "")
  return hs
end

hs.status = "Progressing"
if phase == "Running" then
  local parts = { "Running" }
  if status.step ~= nil then
    table.insert(parts, status.step)
  end
  if status.progress ~= nil then
    table.insert(parts, tostring(status.progress) .. "%")
  end
  hs.message = table.concat(parts, " ")
else
  hs.message = cause(status, phase)
end
return hs
