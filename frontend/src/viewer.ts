// The 3D viewer (three.js): loaded only when a model is first shown, so the board stays small.
import {
  AmbientLight,
  Box3,
  Color,
  DirectionalLight,
  Mesh,
  MeshStandardMaterial,
  PerspectiveCamera,
  Scene,
  Sphere,
  Vector3,
  WebGLRenderer,
  type Material,
  type Object3D,
} from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
// Bundled into this lazy chunk (no CDN); its WebAssembly needs 'wasm-unsafe-eval' in the CSP.
import { MeshoptDecoder } from "three/examples/jsm/libs/meshopt_decoder.module.js";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

export interface Viewer {
  names: string[];
  fit: () => void;
  highlight: (name: string | null) => void;
  snapshot: () => Promise<Blob | null>;
  dispose: () => void;
}

function meshesOf(root: Object3D): Mesh[] {
  const meshes: Mesh[] = [];
  root.traverse((node) => {
    if ((node as Mesh).isMesh) meshes.push(node as Mesh);
  });
  return meshes;
}

/** A name for each mesh: its own, or the nearest named ancestor's (STEP assemblies name nodes). */
function nameOf(mesh: Object3D): string {
  let node: Object3D | null = mesh;
  while (node) {
    if (node.name) return node.name;
    node = node.parent;
  }
  return "Part";
}

export async function mountViewer(container: HTMLElement, glb: ArrayBuffer): Promise<Viewer> {
  // The server sends the meshopt-compressed GLB when asked (ModelPanel); any other GLB
  // loads the same way.
  const gltf = await new GLTFLoader().setMeshoptDecoder(MeshoptDecoder).parseAsync(glb, "");
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  const scene = new Scene();
  scene.background = new Color(dark ? 0x1b2430 : 0xf1f4f8);
  scene.add(new AmbientLight(0xffffff, 1.2));
  const sun = new DirectionalLight(0xffffff, 2.2);
  sun.position.set(1, 2, 3);
  scene.add(sun);
  const back = new DirectionalLight(0xffffff, 0.8);
  back.position.set(-2, -1, -2);
  scene.add(back);
  scene.add(gltf.scene);

  const renderer = new WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
  container.appendChild(renderer.domElement);
  renderer.domElement.setAttribute("role", "img");
  renderer.domElement.setAttribute("aria-label", "3D model; drag to rotate, scroll or pinch to zoom");

  const camera = new PerspectiveCamera(45, 1, 0.001, 1e6);
  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;

  const render = () => renderer.render(scene, camera);
  const resize = () => {
    const width = container.clientWidth || 300;
    const height = container.clientHeight || 300;
    renderer.setSize(width, height, false);
    camera.aspect = width / height;
    camera.updateProjectionMatrix();
    if (moved) render();
    else fit();
  };

  // Until someone turns the model, every resize frames it again (the dialog may still be
  // laying out when the model arrives).
  let moved = false;
  controls.addEventListener("start", () => {
    moved = true;
  });

  const fit = () => {
    const sphere = new Box3().setFromObject(gltf.scene).getBoundingSphere(new Sphere());
    const radius = sphere.radius || 1;
    const vertical = (camera.fov * Math.PI) / 180;
    const horizontal = 2 * Math.atan(Math.tan(vertical / 2) * camera.aspect);
    const distance = (radius / Math.sin(Math.min(vertical, horizontal) / 2)) * 1.05;
    camera.near = distance / 1000;
    camera.far = distance * 100;
    const direction = new Vector3(0.6, 0.5, 0.8).normalize();
    camera.position.copy(sphere.center).add(direction.multiplyScalar(distance));
    camera.updateProjectionMatrix();
    controls.target.copy(sphere.center);
    controls.update();
    render();
  };

  const meshes = meshesOf(gltf.scene);
  const originals = new Map<Mesh, Material | Material[]>(meshes.map((m) => [m, m.material]));
  const accent = new MeshStandardMaterial({ color: 0xff8a00, emissive: 0x552200 });
  const highlight = (name: string | null) => {
    for (const mesh of meshes) mesh.material = name && nameOf(mesh) === name ? accent : originals.get(mesh)!;
    render();
  };

  let frame = 0;
  const loop = () => {
    frame = requestAnimationFrame(loop);
    if (controls.update()) render();
  };
  controls.addEventListener("change", render);
  const observer = new ResizeObserver(resize);
  observer.observe(container);
  resize();
  fit();
  loop();

  return {
    names: [...new Set(meshes.map(nameOf))],
    fit,
    highlight,
    snapshot: () =>
      new Promise((resolve) => {
        render();
        renderer.domElement.toBlob(resolve, "image/png");
      }),
    dispose: () => {
      cancelAnimationFrame(frame);
      observer.disconnect();
      controls.dispose();
      renderer.dispose();
      accent.dispose();
      renderer.domElement.remove();
    },
  };
}
